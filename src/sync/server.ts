// The edge's side of offline sync, independent of any runtime: the Durable Objects adapter wires it to
// its objects, tests wire it to memory hosts. Both ends share the schemas in ./protocol.ts.
import {
  aggregateTargetOf,
  type ClientCommand,
  type ClientCommandResult,
  type SyncAggregate,
} from "../aggregate/client-commands.ts";
import type { Result } from "../errors.ts";
import type { Message } from "../message.ts";
import type { LocalService } from "../registry.ts";
import { Response } from "../response.ts";
import {
  type AggregateChanges,
  type ChangesError,
  type ChangesReply,
  type ChangesRequest,
  type PushedCommand,
  type PushReply,
  type PushRequest,
  type PushResult,
  SYNC_LIMITS,
  SYNC_PROTOCOL_VERSION,
} from "./protocol.ts";

/** What the sync server needs from the edge it runs on. */
export interface SyncServerContext {
  /** The aggregate types clients sync, by the name they use for them. */
  aggregate(name: string): SyncAggregate | undefined;
  /** A service registered on the edge (its router authorizes each pushed command). */
  lookup(service: string): LocalService | undefined;
  /**
   * The door every client envelope passes, the same as for the edge's other endpoints: a validated request
   * (not an answer) with the edge's assigns (the authenticated principal), or why it is refused.
   */
  admit(envelope: unknown): Result<Message>;
  /** Whether the client may read aggregate `id`'s changes. */
  authorizePull(aggregate: string, id: string): boolean | Promise<boolean>;
  /** Aggregates asked at once. @default 16 */
  readonly concurrency?: number;
}

/** Runs `task` over `items`, at most `limit` at a time, keeping the results in order. */
async function mapBounded<TItem, TResult>(
  items: readonly TItem[],
  limit: number,
  task: (item: TItem) => Promise<TResult>,
): Promise<TResult[]> {
  const results = new Array<TResult>(items.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await task(items[index] as TItem);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const refusal = (pushed: PushedCommand, clientId: string, response: Response): ClientCommand => ({
  client: { clientId, seq: pushed.seq },
  messageId: pushed.messageId,
  refusal: response,
});

const invalid = (message: string) => Response.validationError([{ message, path: [] }]);

/**
 * Turns one pushed command into what its aggregate runs: the admitted message and its route, after the
 * router that offers the service authorized it; or a refusal, which the aggregate records like any
 * final answer so that the client's sequence moves on and the queue never blocks.
 */
async function prepare(
  pushed: PushedCommand,
  clientId: string,
  target: SyncAggregate,
  context: SyncServerContext,
): Promise<ClientCommand> {
  const refuse = (response: Response) => refusal(pushed, clientId, response);
  const admitted = context.admit(pushed.command);
  if (!admitted.ok) {
    const { details, message } = admitted.error;
    return refuse(Array.isArray(details) ? Response.validationError(details) : invalid(message));
  }
  const message = admitted.value;
  if (message.id !== pushed.messageId) return refuse(invalid("the envelope's id is not the pushed messageId"));
  if (message.halted && message.response) return refuse(message.response);
  const service = context.lookup(message.serviceName);
  // Private services are never reachable from outside, so they answer like unknown ones.
  if (service?.entry.visibility !== "public") return refuse(Response.unknownService(message.serviceName));
  const aggregateTarget = aggregateTargetOf(service.entry.handler);
  // Only a service acting on this very aggregate type may run on it: the route names one of its commands.
  if (!aggregateTarget || aggregateTarget.key !== target.key) {
    return refuse(invalid(`"${message.serviceName}" is not a command of aggregate "${pushed.aggregate}"`));
  }
  const authorization = await service.router.authorize(message);
  if (!authorization.allowed) return refuse(Response.denied(authorization.reason));
  const { route } = aggregateTarget;
  const prepared = message.prepareAggregateId(route.idField, { generateIfMissing: route.generateIdIfMissing });
  if (prepared.halted && prepared.response) return refuse(prepared.response);
  if (prepared.aggregateMeta.id !== pushed.aggregateId) {
    return refuse(invalid(`the command acts on "${prepared.aggregateMeta.id}", not "${pushed.aggregateId}"`));
  }
  return { client: { clientId, seq: pushed.seq }, route, message: prepared };
}

/**
 * Runs a push: each aggregate's commands go to it in one call, in the client's order (its sequence numbers
 * make each exactly once, with no window); different aggregates run in parallel. Each command is answered.
 */
export async function runPush(request: PushRequest, context: SyncServerContext): Promise<PushReply> {
  const results = new Array<PushResult>(request.commands.length);
  const groups = new Map<string, { aggregate: string; id: string; indexes: number[] }>();
  request.commands.forEach((pushed, index) => {
    const key = `${pushed.aggregate}\u0000${pushed.aggregateId}`;
    const group = groups.get(key) ?? { aggregate: pushed.aggregate, id: pushed.aggregateId, indexes: [] };
    groups.set(key, group);
    group.indexes.push(index);
  });
  await mapBounded([...groups.values()], context.concurrency ?? 16, async ({ aggregate, id, indexes }) => {
    const target = context.aggregate(aggregate);
    const commands = indexes.map((index) => request.commands[index] as PushedCommand);
    if (!target) {
      // Nowhere to record anything: refused, and the client's sequence there cannot move.
      for (const index of indexes) {
        const pushed = request.commands[index] as PushedCommand;
        results[index] = {
          messageId: pushed.messageId,
          status: "rejected",
          response: Response.error({ code: "UNKNOWN_AGGREGATE", aggregate }),
        };
      }
      return;
    }
    const prepared = await Promise.all(commands.map((pushed) => prepare(pushed, request.clientId, target, context)));
    let outcomes: ClientCommandResult[];
    try {
      outcomes = await target.runClientCommands(id, prepared);
    } catch {
      // The aggregate could not be reached: nothing of this batch is known to have run; push it again.
      outcomes = prepared.map((_, i) => ({ status: i === 0 ? "retry" : "not_processed", response: null }));
    }
    indexes.forEach((index, i) => {
      const outcome = outcomes[i] ?? { status: "not_processed", response: null };
      results[index] = { messageId: (commands[i] as PushedCommand).messageId, ...outcome };
    });
  });
  return { protocol: SYNC_PROTOCOL_VERSION, results };
}

/**
 * Answers a changes request: every tracked aggregate is read in parallel (bounded), each under the
 * pull authorization; aggregates with nothing new for the client are left out. When the answer is full
 * (about `limit` events, default 5,000), the rest is left for the next request (`more`).
 */
export async function runChanges(request: ChangesRequest, context: SyncServerContext): Promise<ChangesReply> {
  const concurrency = context.concurrency ?? 16;
  let budget = request.limit ?? 5_000;
  // Each aggregate read in flight holds its share of the budget, so the answer stays near `limit`.
  const share = Math.max(
    1,
    Math.min(
      SYNC_LIMITS.maxEventsPerPage,
      Math.floor(budget / Math.min(concurrency, Math.max(1, request.cursors.length))),
    ),
  );
  let more = false;
  const changes: AggregateChanges[] = [];
  const errors: ChangesError[] = [];
  await mapBounded(request.cursors, concurrency, async (cursor) => {
    const { aggregate, id, after } = cursor;
    const target = context.aggregate(aggregate);
    if (!target) {
      errors.push({ aggregate, id, code: "UNKNOWN_AGGREGATE", message: `no aggregate type "${aggregate}"` });
      return;
    }
    if ((await context.authorizePull(aggregate, id)) !== true) {
      errors.push({ aggregate, id, code: "FORBIDDEN", message: "not allowed to read this aggregate" });
      return;
    }
    const limit = Math.min(share, budget);
    if (limit <= 0) {
      more = true; // the answer is full: this one waits for the next request
      return;
    }
    budget -= limit;
    try {
      const page = await target.changes(id, { after, limit, clientId: request.clientId });
      budget += limit - page.events.length;
      if (page.seq === undefined) more = true;
      // Nothing new for this client: not worth the bytes.
      if (page.events.length === 0 && page.version === after && page.seq === (cursor.seq ?? 0)) return;
      changes.push({ aggregate, id, ...page });
    } catch {
      budget += limit;
      errors.push({ aggregate, id, code: "UNAVAILABLE", message: "the aggregate could not be read now" });
    }
  });
  return { protocol: SYNC_PROTOCOL_VERSION, changes, errors, more };
}
