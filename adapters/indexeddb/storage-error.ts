import { isSdkClientError, SdkClientError, SdkErrorCode } from "../../src/index.ts";
import type { X3mTransaction } from "./schema.ts";

/**
 * Why an IndexedDB operation failed, as `details.reason` of the `SdkClientError` it rejects with:
 * - `closed`: the connection is closed (`close()`, another tab's upgrade, or the browser closed it);
 * - `quota_exceeded`: the origin is out of storage (it arrives as an aborted transaction, the quota error only on `tx.error`);
 * - `data_clone`: an event, metadata or state cannot be stored (functions, class instances with private state…);
 * - `transaction_inactive`: code awaited something other than the transaction's own requests, so IndexedDB
 *   had already committed it (a transaction ends when nothing of its own is pending);
 * - `invalid`: a request IndexedDB refused as malformed (a bad key, a store missing from the transaction);
 * - `aborted`: the transaction was aborted (by code, or by the browser, e.g. a backgrounded iOS tab);
 * - `failed`: anything else.
 * Nothing of a failed write is stored: every write is one transaction.
 *
 * @example
 * import { type IndexedDbFailure, indexedDbFailureOf } from "x3m-system/indexeddb";
 * const retryable = (reason: IndexedDbFailure | undefined) => reason === "aborted" || reason === "quota_exceeded";
 */
export type IndexedDbFailure =
  | "closed"
  | "quota_exceeded"
  | "data_clone"
  | "transaction_inactive"
  | "invalid"
  | "aborted"
  | "failed";

const REASONS: Record<string, IndexedDbFailure> = {
  InvalidStateError: "closed",
  QuotaExceededError: "quota_exceeded",
  DataCloneError: "data_clone",
  TransactionInactiveError: "transaction_inactive",
  DataError: "invalid",
  NotFoundError: "invalid",
  ReadOnlyError: "invalid",
  InvalidAccessError: "invalid",
  AbortError: "aborted",
};

// The core has no storage code yet: the closest existing ones (a caller's mistake, else "unavailable").
const CODES: Record<IndexedDbFailure, SdkErrorCode> = {
  closed: SdkErrorCode.STORAGE_FAILED,
  quota_exceeded: SdkErrorCode.STORAGE_QUOTA_EXCEEDED,
  aborted: SdkErrorCode.STORAGE_FAILED,
  failed: SdkErrorCode.STORAGE_FAILED,
  data_clone: SdkErrorCode.INVALID_MESSAGE,
  transaction_inactive: SdkErrorCode.INVALID_OPTIONS,
  invalid: SdkErrorCode.INVALID_OPTIONS,
};

const nameOf = (error: unknown) => (error instanceof Error || error instanceof DOMException ? error.name : "");

/** The transaction's own error: a quota failure shows up there while the requests only say AbortError. */
function transactionError(tx: X3mTransaction<IDBTransactionMode> | undefined): unknown {
  try {
    return tx?.error ?? undefined;
  } catch {
    return undefined; // older engines throw while the transaction is still running
  }
}

/**
 * The `SdkClientError` an IndexedDB failure surfaces as (an `SdkClientError` passes through unchanged).
 *
 * @internal
 */
export function storageError(
  error: unknown,
  operation: string,
  tx?: X3mTransaction<IDBTransactionMode>,
): SdkClientError {
  if (isSdkClientError(error)) return error;
  const fromTx = transactionError(tx);
  const cause = fromTx !== undefined && (nameOf(error) === "AbortError" || error === undefined) ? fromTx : error;
  const name = nameOf(cause);
  const mapped = REASONS[name] ?? "failed";
  // With a transaction at hand, InvalidStateError means that transaction had finished, not that the connection closed.
  const reason = mapped === "closed" && tx ? "transaction_inactive" : mapped;
  const text = cause instanceof Error || cause instanceof DOMException ? cause.message : String(cause);
  return new SdkClientError(CODES[reason], `IndexedDB ${operation} failed (${reason}): ${name || "Error"}: ${text}`, {
    cause,
    details: { source: "indexeddb", reason, operation, name },
  });
}

/** The error every call of a closed store rejects with. @internal */
export function closedError(operation: string): SdkClientError {
  return new SdkClientError(CODES.closed, `IndexedDB ${operation} failed (closed): the store's connection is closed`, {
    details: { source: "indexeddb", reason: "closed", operation, name: "" },
  });
}

/**
 * The reason of an error this adapter rejected with, or `undefined` for any other error.
 *
 * @example
 * import { indexedDbFailureOf } from "x3m-system/indexeddb";
 * try { await store.append("s", events) } catch (error) {
 *   if (indexedDbFailureOf(error) === "quota_exceeded") askTheUserToFreeSpace();
 * }
 */
export function indexedDbFailureOf(error: unknown): IndexedDbFailure | undefined {
  if (!isSdkClientError(error)) return undefined;
  const details = error.details as { source?: unknown; reason?: IndexedDbFailure } | undefined;
  return details?.source === "indexeddb" ? details.reason : undefined;
}

/** Aborts `tx` if it is still running; its `done` rejection is marked handled (callers may still await it). @internal */
export function abortQuietly(tx: X3mTransaction<IDBTransactionMode>): void {
  tx.done.catch(() => {});
  try {
    tx.abort();
  } catch {
    // Already committed or aborted.
  }
}

/**
 * Settles when `tx` has ended: resolves on commit, rejects on abort with the transaction's own error.
 * Call it before `tx` can end. Unlike idb's `done`, which rejects at the first failed request, before the
 * abort has set `tx.error` (so a quota or constraint failure would read as a bare AbortError).
 *
 * @internal
 */
export function ending(tx: X3mTransaction<IDBTransactionMode>): Promise<void> {
  const ended = new Promise<void>((resolve, reject) => {
    tx.addEventListener("complete", () => resolve());
    tx.addEventListener("abort", () =>
      reject(tx.error ?? new DOMException("The transaction was aborted", "AbortError")),
    );
  });
  ended.catch(() => {});
  return ended;
}

/**
 * Resolves once every request made on `tx` so far has succeeded; rejects when one failed. IndexedDB runs
 * a transaction's requests in the order they were made, so a read made now answers after all of them,
 * and a failed one has aborted `tx` (its default action) before it could.
 * @internal
 */
export async function earlierRequestsSucceeded(tx: X3mTransaction): Promise<void> {
  const store = tx.objectStoreNames.item(0);
  if (store === null) return;
  // A count of one key reads no value: the cheapest request there is.
  await tx.objectStore(store).count(IDBKeyRange.only(-1));
}

/**
 * Runs `body` on the open transaction `tx` (whose `ending` is `ended`), then commits it once every
 * request `body` made has succeeded; when `body` throws or a request failed, aborts it and rethrows once
 * the abort has settled, so `tx.error` says why. `beforeCommit` runs right before the commit is asked for.
 *
 * Why wait before `commit()`: a request that fails after `commit()` was asked for does not abort the
 * transaction in every engine (Firefox commits the other writes), so a refused append would be half kept.
 * A failed request whose error event was not cancelled is never committed: it is aborted explicitly.
 * @internal
 */
export async function commitAfter<T>(
  tx: X3mTransaction,
  ended: Promise<void>,
  body: () => Promise<T>,
  beforeCommit?: () => void,
): Promise<T> {
  let failed: { error: unknown } | undefined;
  // Request errors bubble to the transaction; one the app cancelled (preventDefault) is handled, not a failure.
  const onError = (event: Event) => {
    if (!event.defaultPrevented) failed ??= { error: (event.target as IDBRequest | null)?.error ?? event };
  };
  tx.addEventListener("error", onError);
  try {
    const value = await body();
    await earlierRequestsSucceeded(tx);
    if (failed) throw failed.error;
    beforeCommit?.();
    try {
      tx.commit();
    } catch {
      // Already committing: `ended` tells how it ended.
    }
    await ended;
    return value;
  } catch (error) {
    abortQuietly(tx);
    await ended.catch(() => {});
    throw error;
  } finally {
    tx.removeEventListener("error", onError);
  }
}
