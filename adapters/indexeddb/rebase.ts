import {
  type AnyAggregate,
  aggregateDenial,
  describeError,
  foldEvents,
  isSuccess,
  Message,
  mapResponse,
  Response,
  runCommand,
} from "../../src/index.ts";
import type { OutboxRow } from "./outbox.ts";

/** An aggregate's state at a version. */
export interface VersionedState {
  readonly state: unknown;
  /** -1 for an aggregate that does not exist (yet). */
  readonly version: number;
}

/** Why the command fails when run on `current`, before its handler runs (flow and authorization). */
async function refusalBefore(aggregate: AnyAggregate, row: OutboxRow, message: Message, current: VersionedState) {
  const { flow } = row.route;
  if (flow === "onNew" && current.version >= 0) return { status: "already_exists" } as const;
  if (flow === "on" && current.version < 0) return { status: "not_found" } as const;
  return aggregateDenial(aggregate, message, current.state);
}

/**
 * Runs one queued command again on `current`, as the host ran it the first time (same flow, same
 * handler, same response mapping): its new tentative events and local answer, or why it now fails.
 */
export async function rerun(
  aggregate: AnyAggregate,
  row: OutboxRow,
  current: VersionedState,
): Promise<{ row: OutboxRow; next: VersionedState }> {
  const { route } = row;
  const prepared = Message.parse(row.command).prepareAggregateId(route.idField, {
    generateIfMissing: route.generateIdIfMissing,
  });
  const failed = (response: Response) => ({
    row: { ...row, events: [], localResponse: response, localFailure: response },
    next: current,
  });
  const refused = await refusalBefore(aggregate, row, prepared, current);
  if (refused) return failed(refused);
  const before = prepared.with({
    events: [],
    request: undefined,
    valid: true,
    aggregateMeta: { ...prepared.aggregateMeta, version: current.version },
  });
  let result: Message;
  try {
    result = await runCommand(aggregate, route.command, before, current.state);
  } catch (error) {
    return failed(Response.error({ exception: describeError(error) }));
  }
  // As the host answers a handler that returns something else than a message.
  if (!(result instanceof Message)) return failed(Response.error("invalid_handler_result"));
  const flow = current.version === -1 ? "new" : "existing";
  const id = prepared.aggregateMeta.id as string;
  const version = current.version + result.events.length;
  const response = mapResponse(result.response, flow, id, version);
  const { localFailure: _previous, ...rest } = row;
  const rebased: OutboxRow = isSuccess(result.response)
    ? { ...rest, events: [...result.events], localResponse: response }
    : { ...rest, events: [...result.events], localResponse: response, localFailure: response };
  const next =
    result.events.length === 0 ? current : { state: foldEvents(aggregate, current.state, result.events), version };
  return { row: rebased, next };
}

/**
 * Re-runs still-pending commands, in order, on a new confirmed state (after a pull or a rejection): the
 * view stays "confirmed + pending", recomputed, never a stale guess. Returns the rows whose events or
 * answers changed, and the resulting state.
 */
export async function rebase(
  aggregate: AnyAggregate,
  confirmed: VersionedState,
  rows: readonly OutboxRow[],
): Promise<{ changed: OutboxRow[]; state: VersionedState }> {
  let current = confirmed;
  const changed: OutboxRow[] = [];
  for (const row of rows) {
    const { row: rebased, next } = await rerun(aggregate, row, current);
    current = next;
    if (
      JSON.stringify([rebased.events, rebased.localResponse, rebased.localFailure ?? null]) !==
      JSON.stringify([row.events, row.localResponse, row.localFailure ?? null])
    ) {
      changed.push(rebased);
    }
  }
  return { changed, state: current };
}
