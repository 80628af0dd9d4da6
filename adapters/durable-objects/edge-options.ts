import type { AnyRouter, Clock, Principal } from "../../src/index.ts";
import type { AggregateNamespace, ConnectionObjectRpc } from "./rpc.ts";

export type { Principal };

/** Options of `createEdgeWorker`. */
export interface EdgeWorkerOptions<TEnv = Cloudflare.Env> {
  /** The routers the edge node serves; built per request because services usually forward to objects in `env`. */
  routers(env: TEnv): readonly AnyRouter[];
  /**
   * Runs first, before any body or frame is read: a principal, or `null` to reject with 401. It should read
   * credentials from headers only: browsers, which cannot set headers on a WebSocket, open it with a
   * short-lived ticket instead (see `tickets`), so session tokens never travel in URLs.
   */
  authenticate(request: Request, env: TEnv): Principal | null | Promise<Principal | null>;
  /**
   * The edge's connection objects (`defineConnectionObject`, bound in wrangler.toml): the WebSocket endpoint
   * hands every authenticated upgrade to one of them. Without it, the endpoint answers 501.
   */
  connections?(env: TEnv): EdgeConnectionNamespace;
  /**
   * Which connection object a principal's sockets go to. @default one object per principal (its JSON with
   * sorted keys): a user's tabs and devices share one object, so a poke for an aggregate they track is one call.
   */
  connectionShard?(principal: Principal): string;
  /**
   * Tickets for WebSocket upgrades: `POST <paths.websocket>/ticket` (authenticated by `authenticate`, like
   * every endpoint; body `{}`) answers `{ ticket, expiresAt }`, and the upgrade accepts `?ticket=`: a
   * signed (HMAC-SHA-256) principal valid for `ttlMs`, never a session token.
   */
  readonly tickets?: {
    /** The signing secret (e.g. a Worker secret: `wrangler secret put X3M_TICKET_SECRET`), at least 32 characters. */
    secret(env: TEnv): string;
    /** @default 30_000 */
    readonly ttlMs?: number;
  };
  /** Client-sent `assigns` keys kept as they are; every other client assign is dropped. @default [] */
  readonly trustedAssigns?: readonly string[];
  /** Largest accepted request body or frame, in bytes. @default 65_536 */
  readonly maxBodyBytes?: number;
  /** Per-attempt dispatch timeout. @default 5_000 */
  readonly timeoutMs?: number;
  /** The edge node's id, as clients see it. @default "edge" */
  readonly nodeId?: string;
  /** The edge nodes' clock (call timeouts): a connection object arms a timer only while a call is in flight. @default systemClock */
  readonly clock?: Clock;
  /** Offline sync (`/push` and `/changes` under `paths.sync`); without it those endpoints answer 404. */
  readonly sync?: SyncOptions<TEnv>;
  /** Paths of the endpoints. @default { dispatch: "/x3m/dispatch", websocket: "/x3m/ws", sync: "/x3m/sync" } */
  readonly paths?: { readonly dispatch?: string; readonly websocket?: string; readonly sync?: string };
}

/** The namespace of the edge's connection objects, as the Worker uses it. */
export interface EdgeConnectionNamespace {
  /** The id of the connection object named `name` (the same name always gives the same object). */
  idFromName(name: string): unknown;
  /** The stub of the connection object with `id`: its RPC methods, and `fetch` for a WebSocket upgrade. */
  get(id: never): ConnectionObjectRpc & {
    /** Hands the object an authenticated WebSocket upgrade; answers the 101 with the client's socket. */
    fetch(request: Request): Promise<Response>;
  };
}

/** What offline sync needs: where each aggregate type lives, and who may read whose events. */
export interface SyncOptions<TEnv> {
  /** Aggregate type (as clients name it) → the namespace of its objects. */
  aggregates(env: TEnv): Readonly<Record<string, AggregateNamespace>>;
  /** Whether `principal` may pull the events of aggregate `id`. @default denies everything */
  authorizePull?(pull: { principal: Principal; aggregate: string; id: string }, env: TEnv): boolean | Promise<boolean>;
  /** Most commands in one push. @default 500 */
  readonly maxBatch?: number;
  /** Largest push body in bytes. @default 1_048_576 */
  readonly maxBatchBytes?: number;
}

/** The options with every default filled in. */
export interface ResolvedEdgeOptions<TEnv> extends EdgeWorkerOptions<TEnv> {
  readonly trustedAssigns: readonly string[];
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  readonly nodeId: string;
  readonly paths: { readonly dispatch: string; readonly websocket: string; readonly sync: string };
}

export function resolveEdgeOptions<TEnv>(options: EdgeWorkerOptions<TEnv>): ResolvedEdgeOptions<TEnv> {
  return {
    ...options,
    trustedAssigns: options.trustedAssigns ?? [],
    maxBodyBytes: options.maxBodyBytes ?? 65_536,
    timeoutMs: options.timeoutMs ?? 5_000,
    nodeId: options.nodeId ?? "edge",
    paths: {
      dispatch: options.paths?.dispatch ?? "/x3m/dispatch",
      websocket: options.paths?.websocket ?? "/x3m/ws",
      sync: options.paths?.sync ?? "/x3m/sync",
    },
  };
}

/** A typed error answer for requests refused before dispatch. */
export function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}
