import { unwrap } from "idb";
import {
  type AppendOptions,
  type AppendResult,
  type Clock,
  type EventMetadata,
  eventTypeOf,
  type ReadOptions,
  type RecordedEvent,
  satisfiesExpectedVersion,
  systemClock,
  wrongExpectedVersion,
} from "../../src/index.ts";
import { moveClientInTransaction, recordAnswerInTransaction } from "./answers-transaction.ts";
import { type EventRow, type StreamRow, X3M_STORES, type X3mTransaction } from "./schema.ts";
import { abortQuietly, earlierRequestsSucceeded, storageError } from "./storage-error.ts";

export { EVENT_STORE_NAMES } from "./schema.ts";

/**
 * An event to append with `appendInTransaction`: its data, and metadata of its own (merged over the
 * append's shared `metadata`), e.g. the message id of the command each pulled event came from.
 *
 * @example
 * import type { NewEvent } from "x3m-system/indexeddb";
 * const events: NewEvent[] = pulled.map((e) => ({ data: e.data, metadata: e.metadata }));
 */
export interface NewEvent {
  readonly data: unknown;
  readonly metadata?: EventMetadata;
}

/** @internal */
export interface AppendOutcome {
  readonly result: AppendResult;
  /** What was written, for subscribers once the transaction has committed (empty when nothing was). */
  readonly recorded: readonly RecordedEvent[];
}

/** The `count` of a `getAll` for a page `limit`: `undefined` = no limit, 0 = nothing to read. @internal */
export function countOf(limit: number | undefined): number | undefined {
  if (limit === undefined || limit >= 2 ** 32) return undefined;
  return limit >= 1 ? Math.floor(limit) : 0;
}

/** @internal */
export function toRecorded({ epoch: _epoch, ...event }: EventRow): RecordedEvent {
  return event;
}

/** The highest global position written so far (0 when empty): the events store's last key. @internal */
export async function lastPositionInTransaction(tx: X3mTransaction<IDBTransactionMode>): Promise<number> {
  const cursor = await tx.objectStore(X3M_STORES.events).openKeyCursor(null, "prev");
  return (cursor?.key as number | undefined) ?? 0;
}

/**
 * The append itself (see `appendInTransaction`); also answers what it wrote.
 *
 * @internal
 */
export async function appendRecords(
  tx: X3mTransaction,
  stream: string,
  events: readonly NewEvent[],
  options: AppendOptions,
  clock: Clock,
): Promise<AppendOutcome> {
  try {
    const { expectedVersion = "any", answer } = options;
    const metadata = answer
      ? { ...options.metadata, messageId: answer.messageId, response: answer.response }
      : (options.metadata ?? {});
    // Copied before the first await, as the memory store does: the caller may change its objects
    // afterwards, and what cannot be cloned fails here, before anything is written.
    const copies = structuredClone(events.map((event) => [event.data, { ...metadata, ...event.metadata }] as const));
    const recordedAt = clock.now();
    const streams = tx.objectStore(X3M_STORES.streams);
    // The global position counter is the events store's last key, read in this transaction: readwrite
    // transactions on the store run one at a time, so positions stay gapless across tabs.
    const [row, last] = await Promise.all([
      streams.get(stream) as Promise<StreamRow | undefined>,
      lastPositionInTransaction(tx),
    ]);
    const actual = row?.version ?? -1;
    if (!satisfiesExpectedVersion(expectedVersion, actual)) {
      return { result: wrongExpectedVersion(stream, expectedVersion, actual), recorded: [] };
    }
    if (copies.length === 0) {
      if (answer) {
        await recordAnswerInTransaction(tx, stream, answer);
        await earlierRequestsSucceeded(tx);
      }
      return { result: { ok: true, version: actual, firstPosition: last + 1, lastPosition: last }, recorded: [] };
    }
    const epoch = row?.epoch ?? 0;
    const recorded = copies.map(
      ([data, eventMetadata], i): RecordedEvent => ({
        stream,
        version: actual + 1 + i,
        position: last + 1 + i,
        type: eventTypeOf(data),
        data,
        metadata: eventMetadata,
        recordedAt,
      }),
    );
    // Plain requests, not idb promises, for the events and the client's sequence: requests run in order,
    // so the stream row's put, made last and awaited, succeeds only once every other write did. A failed
    // put aborts the transaction and rejects here: the append never answers before all of its writes
    // succeeded, so a caller that commits explicitly afterwards cannot commit half of it.
    const eventStore = unwrap(tx.objectStore(X3M_STORES.events));
    for (const event of recorded) eventStore.put({ ...event, epoch } satisfies EventRow);
    moveClientInTransaction(tx, stream, answer?.client);
    const version = actual + recorded.length;
    await streams.put({ stream, version, epoch } satisfies StreamRow);
    return { result: { ok: true, version, firstPosition: last + 1, lastPosition: last + recorded.length }, recorded };
  } catch (error) {
    abortQuietly(tx);
    throw storageError(error, "append", tx);
  }
}

/**
 * Appends events to a stream inside a transaction the caller owns, with the same checks and numbering as
 * `EventStore.append`, so other writes (outbox rows, a sync checkpoint, read models) commit or abort with
 * them. `tx` must be a `"readwrite"` transaction covering `EVENT_STORE_NAMES` (plus `x3m_answers` and
 * `x3m_clients` when `options.answer` is given); the caller may use it
 * before and after, awaiting only its requests. The result holds once `tx.done` resolves. A conflict
 * writes nothing and leaves `tx` running (abort it to drop the caller's own writes); a failure aborts
 * `tx` and rejects with an `SdkClientError` (see `IndexedDbFailure`); it resolves only once all of its
 * writes succeeded. To commit explicitly, call `tx.commit()` only after every request of the caller's
 * own has succeeded too (await them): Firefox commits the other writes of a transaction whose `commit()`
 * was asked for while a request was still pending, even when that request then fails. Subscribers of a
 * store hear these events only through `store.appendInTransaction`.
 *
 * @example
 * import { appendInTransaction, EVENT_STORE_NAMES, X3M_STORES } from "x3m-system/indexeddb";
 * const tx = db.transaction([...EVENT_STORE_NAMES, X3M_STORES.outbox], "readwrite");
 * const result = await appendInTransaction(tx, "account-1", pulled.map((e) => ({ data: e.data, metadata: e.metadata })), {
 *   expectedVersion: pulled[0].version - 1,
 * });
 * if (!result.ok) tx.abort();
 * else tx.objectStore(X3M_STORES.outbox).delete(confirmedSeq);
 * await tx.done;
 */
export async function appendInTransaction(
  tx: X3mTransaction,
  stream: string,
  events: readonly NewEvent[],
  options: AppendOptions = {},
  clock: Clock = systemClock,
): Promise<AppendResult> {
  return (await appendRecords(tx, stream, events, options, clock)).result;
}

/**
 * A stream's current version inside a transaction covering `x3m_streams` (-1 when it does not exist).
 *
 * @example
 * import { streamVersionInTransaction } from "x3m-system/indexeddb";
 * const version = await streamVersionInTransaction(tx, "account-1");
 */
export async function streamVersionInTransaction(
  tx: X3mTransaction<IDBTransactionMode>,
  stream: string,
): Promise<number> {
  try {
    const row = (await tx.objectStore(X3M_STORES.streams).get(stream)) as StreamRow | undefined;
    return row?.version ?? -1;
  } catch (error) {
    throw storageError(error, "read", tx);
  }
}

/**
 * Reads a stream in version order inside a transaction covering `EVENT_STORE_NAMES` (readonly or
 * readwrite: it sees the transaction's own earlier appends). Unlike `EventStore.read`, it reads the whole
 * rest of the stream unless given a `limit`, since a transaction cannot be split into pages.
 *
 * @example
 * import { EVENT_STORE_NAMES, readStreamInTransaction } from "x3m-system/indexeddb";
 * const tx = db.transaction([...EVENT_STORE_NAMES, "x3m_outbox"], "readonly");
 * const [confirmed, pending] = await Promise.all([readStreamInTransaction(tx, "account-1"), readPending(tx)]);
 */
export async function readStreamInTransaction(
  tx: X3mTransaction<IDBTransactionMode>,
  stream: string,
  { from = 0, limit }: ReadOptions = {},
): Promise<RecordedEvent[]> {
  try {
    const row = (await tx.objectStore(X3M_STORES.streams).get(stream)) as StreamRow | undefined;
    const start = Math.max(0, from);
    const count = countOf(limit);
    if (!row || start > row.version || count === 0) return [];
    // Range-scan the unique [stream, epoch, version] index: ordered by version, never by insertion (a store that returned insertion order once handed events out of order).
    const range = IDBKeyRange.bound([stream, row.epoch, start], [stream, row.epoch, row.version]);
    const rows = (await tx.objectStore(X3M_STORES.events).index("by_stream").getAll(range, count)) as EventRow[];
    return rows.map(toRecorded);
  } catch (error) {
    throw storageError(error, "read", tx);
  }
}
