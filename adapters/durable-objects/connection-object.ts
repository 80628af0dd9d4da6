import { DurableObject } from "cloudflare:workers";
import {
  decodeLiveFrame,
  encodeFrame,
  encodeLiveFrame,
  isLiveFrameText,
  type Principal,
  type SystemNode,
} from "../../src/index.ts";
import { connectionTransport, type HibernatableSocket, type SocketAttachment } from "./connection-transport.ts";
import { edgeNode } from "./edge-node.ts";
import { type EdgeWorkerOptions, resolveEdgeOptions } from "./edge-options.ts";
import type { AggregateNamespace, ConnectionObjectRpc } from "./rpc.ts";
import { firstRow, rows } from "./storage.ts";

// Per object (one per shard of clients, by default one per principal): the announcements of its clients
// (restored after a wake), what each socket tracks, and which aggregates it asked to be poked by.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS x3m_peers (client_id TEXT PRIMARY KEY, announcement TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS x3m_tracks (
  socket TEXT NOT NULL,
  aggregate TEXT NOT NULL,
  id TEXT NOT NULL,
  PRIMARY KEY (socket, aggregate, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS x3m_tracks_by_aggregate ON x3m_tracks (aggregate, id);
CREATE TABLE IF NOT EXISTS x3m_watching (aggregate TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (aggregate, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS x3m_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`;

/** Headers the Worker sets when it hands an authenticated upgrade to a connection object. @internal */
export const CONNECTION_HEADERS = { principal: "x3m-principal", shard: "x3m-shard" } as const;

/** The class `defineConnectionObject` returns. */
export type ConnectionObjectClass = new (
  ctx: DurableObjectState,
  env: Cloudflare.Env,
) => DurableObject & ConnectionObjectRpc;

/**
 * Makes the Durable Object class that holds the edge's WebSocket connections, with the Hibernation API:
 * clients stay connected while the object sleeps (it is evicted when idle and woken only by a frame or a
 * poke), per-socket state lives in the socket's attachment, pings are answered without waking it, and it
 * arms no timer while idle. The Worker authenticates each upgrade, then hands it to the object of the
 * client's shard (`EdgeWorkerOptions.connectionShard`, by default one object per principal, so all of a
 * user's tabs and devices share one object and a poke for an aggregate they track is one call). In the
 * object, one node serves every socket: each client is a peer, requests flow both ways. Give it the same
 * options as `createEdgeWorker`, export it from the Worker and bind it as `connections`.
 *
 * @example
 * import { createEdgeWorker, defineConnectionObject } from "x3m-system/durable-objects";
 * const options = { routers, authenticate, connections: (env) => env.X3M_CONNECTIONS, tickets: { secret: (env) => env.TICKET_SECRET } };
 * export const X3mConnections = defineConnectionObject(options);
 * export default createEdgeWorker(options);
 */
export function defineConnectionObject<TEnv = Cloudflare.Env>(options: EdgeWorkerOptions<TEnv>): ConnectionObjectClass {
  const resolved = resolveEdgeOptions(options);
  return class ConnectionObject extends DurableObject implements ConnectionObjectRpc {
    #node: SystemNode | undefined;
    /** The shard this object serves (its name): fixed per object, kept in `x3m_meta` for after a wake. */
    #shard: string | undefined;
    /** Per socket key, its latest track frame: a frame overtaken while it was being authorized is dropped. */
    readonly #trackTurns = new Map<string, number>();
    readonly #link: ReturnType<typeof connectionTransport>;

    constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
      super(ctx, env);
      ctx.storage.sql.exec(SCHEMA);
      // Answered by the runtime itself: a client's keep-alive never wakes the object.
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"live":"ping"}', '{"live":"pong"}'));
      const sql = ctx.storage.sql;
      this.#link = connectionTransport({
        sockets: () => ctx.getWebSockets() as unknown as HibernatableSocket[],
        announcement: (clientId) =>
          firstRow<{ announcement: string }>(
            ctx.storage,
            "SELECT announcement FROM x3m_peers WHERE client_id = ?",
            clientId,
          )?.announcement,
        rememberAnnouncement: (clientId, text) => {
          if (text === undefined) sql.exec("DELETE FROM x3m_peers WHERE client_id = ?", clientId);
          else
            sql.exec(
              "INSERT INTO x3m_peers (client_id, announcement) VALUES (?, ?) ON CONFLICT (client_id) DO UPDATE SET announcement = excluded.announcement",
              clientId,
              text,
            );
        },
        trustedAssigns: resolved.trustedAssigns,
        maxFrameBytes: resolved.maxBodyBytes,
      });
    }

    /** The node that serves the sockets: made when a transport frame first needs it (pokes need none). */
    async #ensureNode(): Promise<SystemNode> {
      if (!this.#node) {
        const node = edgeNode(this.env as TEnv, resolved);
        this.#node = node;
        await node.connect(this.#link.transport);
      }
      return this.#node;
    }

    /** An upgrade the Worker authenticated: accept it for hibernation, then speak first. */
    override async fetch(request: Request): Promise<Response> {
      const principal = JSON.parse(request.headers.get(CONNECTION_HEADERS.principal) ?? "null") as Principal | null;
      const shard = request.headers.get(CONNECTION_HEADERS.shard);
      if (!principal || !shard) return new Response("only the edge Worker opens connections", { status: 400 });
      this.ctx.storage.sql.exec(
        "INSERT INTO x3m_meta (key, value) VALUES ('shard', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        shard,
      );
      this.#shard = shard;
      const { 0: client, 1: server } = new WebSocketPair();
      const key = crypto.randomUUID();
      this.ctx.acceptWebSocket(server, [key]);
      server.serializeAttachment({ principal, key, clientId: null, announced: true } satisfies SocketAttachment);
      // The limits first, so a client fails a frame too large on its side; then the edge's announcement
      // (a client learns the edge's node id from it).
      server.send(encodeLiveFrame({ live: "hello", maxFrameBytes: resolved.maxBodyBytes }));
      const node = await this.#ensureNode();
      server.send(
        encodeFrame(
          { kind: "announce", from: node.id, services: node.registry.publicServices() },
          resolved.maxBodyBytes,
        ),
      );
      return new Response(null, { status: 101, webSocket: client });
    }

    override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
      const hibernatable = socket as unknown as HibernatableSocket;
      if (typeof message !== "string") {
        socket.send(encodeLiveFrame({ live: "refused", code: "INVALID_FRAME", message: "frames are JSON text" }));
        return;
      }
      if (isLiveFrameText(message) && message.length <= resolved.maxBodyBytes) {
        await this.#live(hibernatable, message);
        return;
      }
      await this.#ensureNode();
      this.#link.receive(hibernatable, message);
    }

    override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
      this.#gone(socket);
      try {
        socket.close(code === 1005 ? 1000 : code, reason);
      } catch {
        // already closed
      }
    }

    override async webSocketError(socket: WebSocket): Promise<void> {
      this.#gone(socket);
    }

    async poke(aggregate: string, id: string, version: number): Promise<number> {
      const sockets = rows<{ socket: string }>(
        this.ctx.storage,
        "SELECT socket FROM x3m_tracks WHERE aggregate = ? AND id = ?",
        aggregate,
        id,
      );
      const frame = encodeLiveFrame({ live: "poke", aggregate, id, version });
      let poked = 0;
      for (const { socket } of sockets) {
        for (const ws of this.ctx.getWebSockets(socket)) {
          try {
            ws.send(frame);
            poked++;
          } catch {
            // closing: its close handler drops its tracks
          }
        }
      }
      // Nobody here tracks it any more: the aggregate stops calling (it drops this watcher on 0).
      if (poked === 0)
        this.ctx.storage.sql.exec("DELETE FROM x3m_watching WHERE aggregate = ? AND id = ?", aggregate, id);
      return poked;
    }

    #gone(socket: WebSocket): void {
      const hibernatable = socket as unknown as HibernatableSocket;
      const { key } = hibernatable.deserializeAttachment() as SocketAttachment;
      this.ctx.storage.sql.exec("DELETE FROM x3m_tracks WHERE socket = ?", key);
      this.#trackTurns.delete(key);
      this.#link.gone(hibernatable);
    }

    /** This object's shard: known since the upgrade, or read back from storage after a wake. */
    #shardOf(): string | undefined {
      this.#shard ??= firstRow<{ value: string }>(
        this.ctx.storage,
        "SELECT value FROM x3m_meta WHERE key = 'shard'",
      )?.value;
      return this.#shard;
    }

    /**
     * A control frame: `track` replaces what the socket tracks with what its principal may read
     * (`authorizePull`, the changes feed's rule), and registers this object with the aggregates it does not
     * watch yet. Every entry is authorized for this socket's principal, whoever else in the object tracks
     * it: with a custom `connectionShard`, principals share an object, and a poke reaches every socket that
     * has a track row.
     */
    async #live(socket: HibernatableSocket, text: string): Promise<void> {
      const frame = decodeLiveFrame(text);
      if (frame?.live !== "track") {
        socket.send(encodeLiveFrame({ live: "refused", code: "INVALID_FRAME", message: "unknown control frame" }));
        return;
      }
      const { key, principal } = socket.deserializeAttachment() as SocketAttachment;
      const turn = (this.#trackTurns.get(key) ?? 0) + 1;
      this.#trackTurns.set(key, turn);
      const env = this.env as TEnv;
      const namespaces = resolved.sync?.aggregates(env) ?? {};
      // Each (aggregate, id) once per frame: a frame may name one many times.
      const requested = new Map<string, { aggregate: string; id: string }>();
      for (const { aggregate, id } of frame.aggregates)
        if (Object.hasOwn(namespaces, aggregate)) requested.set(JSON.stringify([aggregate, id]), { aggregate, id });
      const verdicts = await Promise.all(
        [...requested.values()].map(
          async (entry) => (await resolved.sync?.authorizePull?.({ principal, ...entry }, env)) === true,
        ),
      );
      const allowed = [...requested.values()].filter((_entry, index) => verdicts[index]);
      // A newer frame of this socket, or its close, came while this one was authorized: that one stands.
      if (this.#trackTurns.get(key) !== turn) return;
      const sql = this.ctx.storage.sql;
      const fresh = this.ctx.storage.transactionSync(() => {
        sql.exec("DELETE FROM x3m_tracks WHERE socket = ?", key);
        for (const { aggregate, id } of allowed)
          sql.exec("INSERT INTO x3m_tracks (socket, aggregate, id) VALUES (?, ?, ?)", key, aggregate, id);
        // What this socket tracks that the object does not watch yet: one query, not one per entry.
        return rows<{ aggregate: string; id: string }>(
          this.ctx.storage,
          `SELECT aggregate, id FROM x3m_tracks AS t WHERE socket = ?
             AND NOT EXISTS (SELECT 1 FROM x3m_watching AS w WHERE w.aggregate = t.aggregate AND w.id = t.id)`,
          key,
        );
      });
      const shard = this.#shardOf();
      if (!shard) return;
      await Promise.all(
        fresh.map(async ({ aggregate, id }) => {
          const namespace = namespaces[aggregate] as AggregateNamespace;
          await namespace.get(namespace.idFromName(id) as never).watch(id, { connection: shard, aggregate });
          sql.exec("INSERT OR IGNORE INTO x3m_watching (aggregate, id) VALUES (?, ?)", aggregate, id);
        }),
      );
    }
  };
}
