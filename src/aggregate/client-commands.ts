import type { ClientSequence, RecordedEvent } from "../event-store/event-store.ts";
import type { Message } from "../message.ts";
import type { Response } from "../response.ts";
import type { ServiceHandler } from "../router.ts";

/** Which host flow runs a command and where its aggregate id is read (as in `host.on/onNew/onMaybeNew`). */
export interface AggregateRoute {
  readonly flow: "on" | "onNew" | "onMaybeNew";
  readonly command: string;
  /** The `rawRequest` field holding the aggregate id. */
  readonly idField: string;
  readonly generateIdIfMissing: boolean;
}

/**
 * A command an offline client pushed, with its place in the client's sequence on the aggregate: the
 * message and how to run it, or a refusal decided before it reached the aggregate (an invalid envelope,
 * a router's denial), which is recorded like any final answer so the client's sequence moves on.
 */
export type ClientCommand =
  | {
      readonly client: ClientSequence;
      readonly route: AggregateRoute;
      /** The command, with the edge's assigns. */
      readonly message: Message;
    }
  | { readonly client: ClientSequence; readonly messageId: string; readonly refusal: Response };

/**
 * What happened to a pushed command. `applied` and `rejected` are final: the answer is recorded with the
 * client's sequence, so pushing the command again answers the same. `retry`: the aggregate could not run
 * it now (storage failure); nothing was recorded, push it again later. `not_processed`: an earlier command
 * of the same aggregate could not run, so this one was not attempted (order is kept).
 */
export type ClientCommandStatus = "applied" | "rejected" | "retry" | "not_processed";

/** A pushed command's outcome and the answer it got (`null` when it was not processed). */
export interface ClientCommandResult {
  readonly status: ClientCommandStatus;
  readonly response: Response | null;
}

/**
 * An aggregate type as offline sync reaches it: running a batch of one aggregate's pushed commands in one
 * go (one round trip and one commit on the edge), and reading its changes. An aggregate host is one
 * (`host.sync`); the Durable Objects adapter makes one per namespace.
 */
export interface SyncAggregate {
  /** Where the aggregate runs: the services acting on it carry the same key (see `AggregateTarget`). */
  readonly key: object;
  /** Runs commands of the aggregate `aggregateId`, in order, each exactly once per client sequence. */
  runClientCommands(aggregateId: string, commands: readonly ClientCommand[]): Promise<ClientCommandResult[]>;
  /**
   * The aggregate's confirmed events after version `after` (at most `limit`), its version, and, when the
   * page reaches that version, `clientId`'s last recorded sequence, all read at one point in time.
   */
  changes(
    aggregateId: string,
    request: { readonly after: number; readonly limit: number; readonly clientId: string },
  ): Promise<{ events: RecordedEvent[]; version: number; seq?: number }>;
}

/**
 * What a service does to an aggregate, as offline sync needs to know it: the route of its commands and
 * the key of where the aggregate runs. Services made by an aggregate host (`host.on(…)`) or forwarded
 * to a Durable Object (`aggregateServices(…).on(…)`) carry one.
 */
export interface AggregateTarget {
  /** The aggregate's name. */
  readonly aggregate: string;
  readonly route: AggregateRoute;
  /** The `SyncAggregate.key` of where it runs. */
  readonly key: object;
}

const TARGET: unique symbol = Symbol("x3m-system.aggregateTarget");

/**
 * Marks a service handler as acting on an aggregate, for offline sync (adapters that forward aggregate
 * commands use it; `host.on(…)` services are marked already).
 *
 * @example
 * import { markAggregateService } from "x3m-system";
 * const deposit = markAggregateService(forwardToObject("deposit"), { aggregate: "account", route, key: namespace });
 */
export function markAggregateService<THandler extends ServiceHandler>(
  handler: THandler,
  target: AggregateTarget,
): THandler {
  Object.defineProperty(handler, TARGET, { value: target });
  return handler;
}

/**
 * The aggregate a service acts on, when it is an aggregate service (see `markAggregateService`).
 *
 * @example
 * import { aggregateTargetOf } from "x3m-system";
 * aggregateTargetOf(host.on("deposit"))?.route.command; // "deposit"
 */
export function aggregateTargetOf(handler: ServiceHandler): AggregateTarget | undefined {
  return (handler as { [TARGET]?: AggregateTarget })[TARGET];
}
