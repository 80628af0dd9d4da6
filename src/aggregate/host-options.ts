import type { Clock } from "../clock.ts";
import type { AppendResult, EventMetadata, EventStore } from "../event-store/event-store.ts";
import type { Logger } from "../logger.ts";
import type { Message } from "../message.ts";
import type { Response } from "../response.ts";
import type { Telemetry } from "../telemetry.ts";

/** An aggregate instance as held in memory (and as saved by `saveState`). */
export interface LoadedAggregate<TState> {
  readonly state: TState;
  /** -1 for an aggregate with no events yet; then the version of its last event. */
  readonly version: number;
  /** Message ids already handled, with the response each got (the idempotency record). */
  readonly processed: ReadonlyMap<string, Response>;
}

/** What `saveEvents` gets: the command's message and events, and the default (event-store) save. */
export interface SaveEventsContext {
  readonly aggregateId: string;
  readonly stream: string;
  readonly message: Message;
  readonly events: readonly unknown[];
  /** The version the aggregate had before the command (the expected version of the append). */
  readonly expectedVersion: number;
  readonly metadata: EventMetadata;
  /** Appends `events` (default: all of them) to the store with the expected version. */
  defaultSave(events?: readonly unknown[]): Promise<AppendResult>;
}

/** How an aggregate hydrates when it is not in memory: the default (snapshot + events) or your own. */
export interface WhenNotLoadedContext<TState> {
  readonly aggregateId: string;
  readonly stream: string;
  /** Loads from the event store: latest valid snapshot, then the events after it. */
  defaultLoad(): Promise<LoadedAggregate<TState> | undefined>;
}

/** An unload rule's verdict: now, after a delay, or not at all. */
export type UnloadDecision = "unload" | { readonly inMs: number } | "skip";

/** Options of `createAggregateHost` (and of a Durable Object's aggregate): the store, then tunings with defaults. */
export interface AggregateHostOptions<TState> {
  readonly store: EventStore;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly telemetry?: Telemetry;
  /** Where the host's warnings go (a re-delivered message already processed); pass `node.logger`. @default silent */
  readonly logger?: Logger;
  /** @default (id) => `${aggregate.name}-${id}` */
  readonly streamName?: (aggregateId: string) => string;
  /** Merged into every stored event's metadata (with messageId, correlationId, causationId). */
  readonly eventMetadata?: EventMetadata;
  /** Save a snapshot every `every` events; bump `schemaVersion` when the state's shape changes. */
  readonly snapshots?: { readonly every: number; readonly schemaVersion: number };
  /**
   * How many of the most recent message ids (with their responses) each aggregate remembers, in memory
   * and in snapshots, to answer re-deliveries without a store read. Only a cache: an older re-delivery is
   * answered from the event store (`findAnswer`), never run again. Bounded so that snapshots and memory do
   * not grow with the aggregate's whole history. @default 1_000
   */
  readonly idempotencyWindow?: number;
  /** Unload an aggregate after this long without commands (passivation). */
  readonly idleTimeoutMs?: number;
  /** The original's unload rules, evaluated after each committed command. */
  readonly unloadOn?: {
    readonly events?: Readonly<Record<string, { readonly inMs: number }>>;
    /** Decides from the state after each committed command (a rule that throws means `"skip"`). */
    readonly state?: (state: TState) => UnloadDecision;
  };
  /** Override to filter events or to persist state instead of events (then return `{ ok: true, version }`). */
  readonly saveEvents?: (context: SaveEventsContext) => Promise<AppendResult | { ok: true; version: number }>;
  /** Called after every committed (non-dry-run) command with the new in-memory aggregate. */
  readonly saveState?: (aggregateId: string, loaded: LoadedAggregate<TState>, message: Message) => void | Promise<void>;
  /** Override to hydrate from somewhere else (a state row); `undefined` means "no such aggregate". */
  readonly whenNotLoaded?: (context: WhenNotLoadedContext<TState>) => Promise<LoadedAggregate<TState> | undefined>;
}
