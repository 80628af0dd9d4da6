/**
 * The checkpoint-store contract: where a projector keeps the global position it has processed up to.
 *
 * Why the read-model write goes through the store: when the checkpoint and the read
 * model are written separately, a crash between the two loses an event or applies it twice. So `commit`
 * runs the projector's write (`apply`) and moves the checkpoint in one step: a store with transactions
 * (IndexedDB, Durable Object SQLite) hands its transaction to `apply` as `tx` and commits both together;
 * the memory store passes `undefined` and moves the checkpoint only when `apply` did not throw.
 */
import { SdkClientError, SdkErrorCode } from "../errors.ts";

/** The compare-and-set a commit asks for: the checkpoint must be `expected`; it becomes `next`. */
export interface CheckpointMove {
  /** The position the caller believes is stored (0 = nothing processed). */
  readonly expected: number;
  /** The position stored on success; greater than `expected` (a commit may cover several events). */
  readonly next: number;
}

/**
 * Why a commit was refused (Emmett's IGNORED / MISMATCH): `"ignored"` when the stored checkpoint already
 * covers `next` (the work was done, by this projector earlier or by another instance), `"mismatch"` when
 * it is anywhere else (moved by someone else, or reset). Either way `apply` did not run, and `actual` is
 * the stored position to continue from.
 */
export type CommitResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "ignored" | "mismatch"; readonly actual: number };

/** A read-model write run inside a commit or a reset; `tx` is the store's transaction, if it has one. */
export type CheckpointApply<TTx> = (tx: TTx) => void | Promise<void>;

/**
 * Keeps each projector's checkpoint. Implementations: `createMemoryCheckpointStore`, and the adapters'
 * stores that write the checkpoint in the read model's own transaction.
 *
 * @example
 * const result = await store.commit("balances", { expected: 4, next: 5 }, (tx) => writeBalance(tx, event));
 * if (!result.ok) continueFrom(result.actual);
 */
export interface CheckpointStore<TTx = undefined> {
  /** The stored checkpoint of projector `name`: 0 when it has processed nothing. */
  load(name: string): Promise<number>;
  /**
   * Compare-and-set: when the checkpoint is `move.expected`, runs `apply` and stores `move.next`,
   * atomically where the store can. When `apply` throws, the checkpoint does not move and `commit`
   * rejects with that error. Commits of one name never overlap, so two instances cannot both win.
   */
  commit(name: string, move: CheckpointMove, apply: CheckpointApply<TTx>): Promise<CommitResult>;
  /**
   * Puts the checkpoint back to 0 together with `apply` (the read model's truncation), atomically where
   * the store can; when `apply` throws, the checkpoint is unchanged and `reset` rejects.
   */
  reset(name: string, apply?: CheckpointApply<TTx>): Promise<void>;
  /**
   * Puts every named checkpoint back to 0 together with `apply`, in one atomic step: one read model fed
   * by several logs (a sharded projector, one checkpoint per shard) is truncated with all of its
   * checkpoints or not at all. When `apply` throws, no checkpoint moves and `resetMany` rejects.
   * Optional: a store without it cannot `rebuild` a projector of more than one shard.
   */
  resetMany?(names: readonly string[], apply?: CheckpointApply<TTx>): Promise<void>;
}

/**
 * The compare-and-set decision every store makes inside its transaction: `undefined` when the commit
 * may go ahead, else the refusal to return. Throws on a move that is not a forward step between
 * non-negative integers, since that is a caller's bug, never a race.
 *
 * @example
 * const refused = checkpointConflict(move, storedPosition);
 * if (refused) return refused;
 */
export function checkpointConflict(move: CheckpointMove, actual: number): CommitResult | undefined {
  const { expected, next } = move;
  if (!Number.isSafeInteger(expected) || !Number.isSafeInteger(next) || expected < 0 || next <= expected) {
    throw new SdkClientError(
      SdkErrorCode.INVALID_OPTIONS,
      `invalid checkpoint move ${expected} → ${next}: positions are integers ≥ 0 and next > expected`,
    );
  }
  if (actual === expected) return undefined;
  return { ok: false, reason: actual >= next ? "ignored" : "mismatch", actual };
}
