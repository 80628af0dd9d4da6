// The RPC surfaces of this adapter's objects and the namespaces that reach them: plain types, apart from the
// classes, so that objects which call each other (an aggregate pokes connections; a connection asks an
// aggregate to be watched) depend on these and not on each other.
import type {
  AggregateRoute,
  ClientCommandResult,
  ClientSequence,
  MessageData,
  RecordedEvent,
  Response,
} from "../../src/index.ts";

/** Which host service runs a forwarded command, and how the id is read (as in `host.on/onNew/onMaybeNew`). */
export interface AggregateCall {
  readonly flow: "on" | "onNew" | "onMaybeNew";
  readonly command: string;
  /** The message as sent (`Message.toJSON()`): objects take plain data over RPC. */
  readonly envelope: MessageData;
  readonly idField?: string;
  readonly generateIdIfMissing?: boolean;
}

/** A pushed command as it travels to the object (plain data over RPC; see `ClientCommand`). */
export type ClientCommandData =
  | { readonly client: ClientSequence; readonly route: AggregateRoute; readonly envelope: MessageData }
  | { readonly client: ClientSequence; readonly messageId: string; readonly refusal: Response };

/** The RPC surface of an aggregate object: what the Worker's forwarding services and sync endpoint call. */
export interface AggregateObjectRpc {
  /** Runs one forwarded command through the host (its flow, idempotency and authorization); answers the resolved message. */
  execute(call: AggregateCall): Promise<MessageData>;
  /** An offline client's commands for this aggregate, in order: one call, one storage commit. */
  runClientCommands(aggregateId: string, commands: readonly ClientCommandData[]): Promise<ClientCommandResult[]>;
  /** Confirmed events after `after`, the version, and the client's sequence (see `SyncAggregate.changes`). */
  changes(
    aggregateId: string,
    request: { after: number; limit: number; clientId: string },
  ): Promise<{ events: RecordedEvent[]; version: number; seq?: number }>;
  /** The aggregate's state and version, for the app's own code (no authorization: the caller is trusted). */
  state(aggregateId: string): Promise<{ state: unknown; version: number } | undefined>;
  /** A client's read of the state (`{ state, version }` or `not_found`), under the aggregate's own `authorize`. */
  read(call: { readonly envelope: MessageData; readonly idField?: string }): Promise<MessageData>;
  /** Pokes `watcher` (a connection object) whenever this aggregate commits events, until it stops tracking it. */
  watch(aggregateId: string, watcher: Watcher): Promise<void>;
  /** Confirmed events of the aggregate from version `from` (offline sync pulls them), and its version. */
  events(aggregateId: string, from: number, limit: number): Promise<{ events: RecordedEvent[]; version: number }>;
}

/** The part of a Durable Object namespace binding these services use. */
export interface AggregateNamespace {
  /** The id of the object for aggregate `name` (one object per aggregate id). */
  idFromName(name: string): unknown;
  /** The object's stub. */
  get(id: never): AggregateObjectRpc;
}

/** The RPC surface of a connection object: what aggregate objects call when they commit. */
export interface ConnectionObjectRpc {
  /** Pokes the sockets tracking aggregate `id` of type `aggregate`; answers how many were poked. */
  poke(aggregate: string, id: string, version: number): Promise<number>;
}

/** The part of a namespace of connection objects aggregate objects use to poke them. */
export interface ConnectionNamespace {
  /** The id of the connection object named `name` (the same name always gives the same object). */
  idFromName(name: string): unknown;
  /** The stub of the connection object with `id`, for its RPC methods. */
  get(id: never): ConnectionObjectRpc;
}

/** A connection object (by its shard name) that asked to be poked about this aggregate, and the name it uses for its type. */
export interface Watcher {
  readonly connection: string;
  readonly aggregate: string;
}
