import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from "idb";
import {
  type CheckpointApply,
  type CheckpointStore,
  type CommitResult,
  checkpointConflict,
  SdkClientError,
  SdkErrorCode,
} from "../../src/index.ts";
import { type CheckpointRow, X3M_STORES, type X3mDatabase, type X3mTransaction } from "./schema.ts";
import { commitAfter, ending, storageError } from "./storage-error.ts";

/**
 * The transaction a projection writes its read model through: readwrite, covering `x3m_checkpoints` and
 * the `readModelStores`, typed by the database's schema when it has one.
 *
 * @example
 * import type { CheckpointTransaction } from "x3m-system/indexeddb";
 * const handle = (event: RecordedEvent, tx: CheckpointTransaction<AppSchema>) => tx.objectStore("balances").put(row);
 */
export type CheckpointTransaction<TSchema extends DBSchema | unknown = unknown> = IDBPTransaction<
  TSchema,
  StoreNames<TSchema>[],
  "readwrite"
>;

/**
 * `createIndexedDbCheckpointStore`'s options.
 *
 * @example
 * createIndexedDbCheckpointStore(db, { readModelStores: ["balances", "statements"] });
 */
export interface IndexedDbCheckpointStoreOptions<TSchema extends DBSchema | unknown = unknown> {
  /** The app's stores the projection writes: they join the checkpoint's transaction. @default [] */
  readonly readModelStores?: readonly StoreNames<TSchema>[];
}

const inactive = (error: unknown) => error instanceof DOMException && error.name === "TransactionInactiveError";

/**
 * A checkpoint store in IndexedDB: each commit reads the checkpoint, runs the projection's `apply` and
 * writes the new position in ONE transaction that also covers the read-model stores, so the read model
 * and the checkpoint commit or abort together (a crash between two separate writes would replay or skip events). Commits of one projector serialize,
 * since IndexedDB runs readwrite transactions over the same store one at a time.
 *
 * `apply` may be async, but it must await only requests of the `tx` it is given: IndexedDB commits a
 * transaction as soon as it has no pending request at the end of a task, so awaiting a fetch, a timer
 * or another transaction would commit the read-model writes made so far without the checkpoint (the
 * event would then be applied again). Compute first, then write. Such a commit rejects with
 * `transaction_inactive`. When `apply` throws, the transaction is aborted and the commit rejects with
 * the same error.
 *
 * @example
 * import { createIndexedDbCheckpointStore } from "x3m-system/indexeddb";
 * import { defineProjector } from "x3m-system";
 * const projector = defineProjector({
 *   name: "balances",
 *   source: store,
 *   checkpoints: createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] }),
 *   handle: async (event, tx) => {
 *     const balances = tx.objectStore("balances");
 *     const row = (await balances.get(event.stream)) ?? { account: event.stream, balance: 0 };
 *     await balances.put({ ...row, balance: row.balance + event.data.amount });
 *   },
 *   truncate: (tx) => tx.objectStore("balances").clear(),
 * });
 */
export function createIndexedDbCheckpointStore<TSchema extends DBSchema | unknown = unknown>(
  db: IDBPDatabase<TSchema>,
  options: IndexedDbCheckpointStoreOptions<TSchema> = {},
): CheckpointStore<CheckpointTransaction<TSchema>> {
  const database = db as X3mDatabase;
  const scope = [X3M_STORES.checkpoints, ...((options.readModelStores ?? []) as readonly string[])];

  const begin = (operation: string, mode: IDBTransactionMode) => {
    try {
      const tx = database.transaction(mode === "readonly" ? X3M_STORES.checkpoints : scope, mode);
      // An aborted transaction must not become an unhandled rejection; commits await `done` themselves.
      tx.done.catch(() => {});
      return tx as X3mTransaction<typeof mode>;
    } catch (error) {
      throw storageError(error, operation);
    }
  };

  /** Runs `body` (which runs `apply` through `run`) in one transaction; apply's own error is rethrown unchanged. */
  const transact = async <T>(
    operation: string,
    body: (tx: X3mTransaction, run: (apply: () => void | Promise<void>) => Promise<void>) => Promise<T>,
  ): Promise<T> => {
    const tx = begin(operation, "readwrite") as X3mTransaction;
    const ended = ending(tx);
    // Set when IndexedDB commits before we ask it to: `apply` awaited something else (see above).
    let committing = false;
    let committedEarly = false;
    tx.addEventListener("complete", () => {
      committedEarly = !committing;
    });
    let applyFailure: { error: unknown } | undefined;
    const run = async (apply: () => void | Promise<void>) => {
      try {
        await apply();
      } catch (error) {
        applyFailure = { error };
        throw error;
      }
    };
    try {
      return await commitAfter(
        tx,
        ended,
        () => body(tx, run),
        () => {
          committing = true;
        },
      );
    } catch (error) {
      if (committedEarly || inactive(applyFailure?.error ?? error)) {
        throw new SdkClientError(
          SdkErrorCode.INVALID_OPTIONS,
          `IndexedDB ${operation} failed (transaction_inactive): apply awaited something other than its transaction's requests, so IndexedDB committed its writes without the checkpoint`,
          {
            cause: applyFailure?.error ?? error,
            details: {
              source: "indexeddb",
              reason: "transaction_inactive",
              operation,
              name: "TransactionInactiveError",
            },
          },
        );
      }
      if (applyFailure) throw applyFailure.error;
      throw storageError(error, operation, tx);
    }
  };

  const asTx = (tx: X3mTransaction) => tx as unknown as CheckpointTransaction<TSchema>;

  return {
    async load(name) {
      const tx = begin("load", "readonly");
      try {
        const row = (await tx.objectStore(X3M_STORES.checkpoints).get(name)) as CheckpointRow | undefined;
        return row?.position ?? 0;
      } catch (error) {
        throw storageError(error, "load", tx);
      }
    },
    async commit(name, move, apply: CheckpointApply<CheckpointTransaction<TSchema>>) {
      // A malformed move is a caller's bug: rejected before a transaction opens.
      checkpointConflict(move, move.expected);
      return transact("commit", async (tx, run): Promise<CommitResult> => {
        const checkpoints = tx.objectStore(X3M_STORES.checkpoints);
        const row = (await checkpoints.get(name)) as CheckpointRow | undefined;
        const refused = checkpointConflict(move, row?.position ?? 0);
        if (refused) return refused;
        await run(() => apply(asTx(tx)));
        await checkpoints.put({ name, position: move.next } satisfies CheckpointRow);
        return { ok: true };
      });
    },
    async reset(name, apply) {
      await transact("reset", async (tx, run) => {
        if (apply) await run(() => apply(asTx(tx)));
        await tx.objectStore(X3M_STORES.checkpoints).delete(name);
      });
    },
  };
}
