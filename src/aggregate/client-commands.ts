import type { ClientSequence } from "../event-store/event-store.ts";
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

/** A command an offline client pushed: the message, how to run it, and its place in the client's sequence. */
export interface ClientCommand {
  readonly route: AggregateRoute;
  /** The command, with its aggregate id prepared (`prepareAggregateId`) and the edge's assigns. */
  readonly message: Message;
  readonly client: ClientSequence;
}

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
 * Where a service's commands run, as offline sync needs to know it: the aggregate and the route, plus how
 * to run a batch of one aggregate's pushed commands in one go (one round trip and one commit on the edge).
 * Services made by an aggregate host (`host.on(…)`) or forwarded to a Durable Object
 * (`aggregateServices(…).on(…)`) carry one.
 */
export interface AggregateTarget {
  /** The aggregate's name (its streams are `${aggregate}-${id}` unless the host names them otherwise). */
  readonly aggregate: string;
  readonly route: AggregateRoute;
  /** Runs commands of the aggregate `aggregateId`, in order, each exactly once per client sequence. */
  runClientCommands(aggregateId: string, commands: readonly ClientCommand[]): Promise<ClientCommandResult[]>;
}

const TARGET: unique symbol = Symbol("x3m-system.aggregateTarget");

/**
 * Marks a service handler as acting on an aggregate, for offline sync (adapters that forward aggregate
 * commands use it; `host.on(…)` services are marked already).
 *
 * @example
 * import { markAggregateService } from "x3m-system";
 * const deposit = markAggregateService(forwardToObject("deposit"), { aggregate: "account", route, runClientCommands });
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

/** The outcome of a final answer: success (`ok`, `created`) applied it, anything else rejected it. */
export function outcomeOf(response: Response | null): "applied" | "rejected" {
  return response === null || response.status === "ok" || response.status === "created" ? "applied" : "rejected";
}
