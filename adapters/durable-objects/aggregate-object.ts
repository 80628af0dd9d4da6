import { DurableObject } from "cloudflare:workers";
import {
  type AggregateHost,
  type AggregateHostOptions,
  type AnyAggregate,
  type ClientCommand,
  createAggregateHost,
  type EventStore,
  Message,
  type MessageData,
  type ServiceHandler,
  type StateOf,
} from "../../src/index.ts";
import { type AlarmClock, createAlarmClock } from "./alarm-clock.ts";
import { createOutboxRelay, type OutboxRelay, type OutboxTarget } from "./outbox-relay.ts";
import type { AggregateCall, AggregateObjectRpc, ClientCommandData, ConnectionNamespace, Watcher } from "./rpc.ts";
import { createSqlEventStore } from "./sql-event-store.ts";
import { createWatchers, type Watchers } from "./watchers.ts";

/** Options of `defineAggregateObject`: the host's options (but the store and clock, which the object owns), plus relaying and pokes. */
export type AggregateObjectOptions<TState, TEnv = Cloudflare.Env> = Omit<
  AggregateHostOptions<TState>,
  "store" | "clock"
> & {
  /**
   * Relays every committed event, at least once and in order, through a transactional outbox to this
   * target (usually the aggregate type's event stream object, see `defineEventStreamObject`).
   */
  relayTo?(env: TEnv): OutboxTarget;
  /**
   * The edge's connection objects (the namespace bound as `connections` of `createEdgeWorker`): when set,
   * every commit pokes the connections whose clients track this aggregate, in the same request.
   */
  connections?(env: TEnv): ConnectionNamespace;
};

/** The class `defineAggregateObject` returns: a Durable Object with the aggregate RPC methods. */
export type AggregateObjectClass = new (
  ctx: DurableObjectState,
  env: Cloudflare.Env,
) => DurableObject & AggregateObjectRpc;

/**
 * Makes the Durable Object class that hosts an aggregate: one object per aggregate id, its events in the
 * object's SQLite storage. The object runs the core's aggregate host, so flows, responses, idempotency and
 * dry runs are those of the memory host; the object's input/output gates make nothing answer before the
 * append is durable. Export the class from your Worker and bind it in wrangler.toml (`new_sqlite_classes`).
 *
 * @example
 * import { defineAggregateObject } from "x3m-system/durable-objects";
 * export const AccountObject = defineAggregateObject(account, { snapshots: { every: 100, schemaVersion: 1 } });
 */
export function defineAggregateObject<TAggregate extends AnyAggregate, TEnv = Cloudflare.Env>(
  aggregate: TAggregate,
  options: AggregateObjectOptions<StateOf<TAggregate>, TEnv> = {},
): AggregateObjectClass {
  /** The event stream of aggregate `id`: the app's `streamName`, else the host's default. */
  const streamOf = (id: string) => options.streamName?.(id) ?? `${aggregate.name}-${id}`;
  return class AggregateObject extends DurableObject implements AggregateObjectRpc {
    readonly #host: AggregateHost<TAggregate>;
    readonly #store: EventStore;
    readonly #clock: AlarmClock;
    readonly #relay: OutboxRelay | undefined;
    readonly #watchers: Watchers | undefined;
    readonly #services = new Map<string, ServiceHandler>();

    constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
      super(ctx, env);
      const { relayTo, connections, ...hostOptions } = options;
      // Every timer of the object (idle unloading, unload rules, the relay) lives on its one alarm.
      this.#clock = createAlarmClock(ctx.storage);
      this.#store = createSqlEventStore(ctx.storage, { outbox: relayTo !== undefined });
      this.#host = createAggregateHost(aggregate, {
        ...hostOptions,
        store: this.#store,
        clock: this.#clock.lane("host"),
      });
      this.#relay =
        relayTo &&
        createOutboxRelay({ storage: ctx.storage, clock: this.#clock.lane("outbox"), target: relayTo(env as TEnv) });
      // Events committed before an eviction but not yet relayed go out when the object starts again.
      this.#relay?.kick();
      this.#watchers =
        connections && createWatchers(ctx.storage, connections(env as TEnv), (promise) => ctx.waitUntil(promise));
    }

    /** Runs `call` for aggregate `id`, then tells the watchers when it committed events. */
    async #committing<T>(id: string | undefined, call: () => Promise<T>): Promise<T> {
      if (!this.#watchers || id === undefined) return call();
      const stream = streamOf(id);
      const before = await this.#store.version(stream);
      const result = await call();
      const after = await this.#store.version(stream);
      if (after > before) this.#watchers.notify(id, after);
      return result;
    }

    async watch(aggregateId: string, watcher: Watcher): Promise<void> {
      void aggregateId;
      this.#watchers?.watch(watcher);
    }

    /** Runs one command; answers the resolved message as plain data. */
    async execute(call: AggregateCall): Promise<MessageData> {
      // Trusted: only the app's own Workers hold this object's binding, and the edge validated the client's
      // envelope at its door before forwarding it (see docs/durable-objects.md, "Aggregate objects").
      const message = Message.fromTrusted(call.envelope);
      const service = this.#service(call);
      // An aggregate service always answers a message (never `noReply`).
      let reply: Message;
      if (this.#watchers) {
        const id = message.aggregateMeta.id ?? (message.rawRequest[call.idField ?? "id"] as string | undefined);
        reply = (await this.#committing(id === undefined ? undefined : String(id), async () =>
          service(message),
        )) as Message;
      } else {
        reply = (await service(message)) as Message; // no watchers to tell: no wrapper on the hot path
      }
      this.#relay?.kick();
      return reply.toJSON();
    }

    async runClientCommands(aggregateId: string, commands: readonly ClientCommandData[]) {
      const parsed = commands.map(
        (command): ClientCommand =>
          "refusal" in command ? command : { ...command, message: Message.fromTrusted(command.envelope) },
      );
      const results = await this.#committing(aggregateId, () => this.#host.sync.runClientCommands(aggregateId, parsed));
      this.#relay?.kick();
      return results;
    }

    async changes(aggregateId: string, request: { after: number; limit: number; clientId: string }) {
      return this.#host.sync.changes(aggregateId, request);
    }

    /** The object's one alarm: due timers (relay, unloading), then a watchdog re-arm. */
    override async alarm(): Promise<void> {
      this.#clock.fire();
      await this.#relay?.flush();
      await this.#clock.watchdog();
    }

    /** The aggregate's current state and version, or `undefined` when it does not exist. */
    async state(aggregateId: string) {
      return this.#host.getState(aggregateId);
    }

    async read(call: { readonly envelope: MessageData; readonly idField?: string }): Promise<MessageData> {
      const reply = await this.#host.stateService({ idField: call.idField ?? "id" })(
        Message.fromTrusted(call.envelope),
      );
      return (reply as Message).toJSON();
    }

    async events(aggregateId: string, from: number, limit: number) {
      const stream = streamOf(aggregateId);
      const [events, version] = await Promise.all([
        this.#store.read(stream, { from, limit }),
        this.#store.version(stream),
      ]);
      return { events, version };
    }

    #service(call: AggregateCall): ServiceHandler {
      const key = `${call.flow}:${call.command}:${call.idField ?? "id"}:${call.generateIdIfMissing === true}`;
      let service = this.#services.get(key);
      if (!service) {
        const command = call.command as Parameters<AggregateHost<TAggregate>["on"]>[0];
        const idField = call.idField ?? "id";
        service =
          call.flow === "onNew"
            ? this.#host.onNew(command, { idField })
            : call.flow === "on"
              ? this.#host.on(command, { idField })
              : this.#host.onMaybeNew(command, { idField, generateIdIfMissing: call.generateIdIfMissing === true });
        this.#services.set(key, service);
      }
      return service;
    }
  };
}
