import { type CheckpointStore, checkpointConflict } from "./checkpoint-store.ts";

/**
 * The in-memory checkpoint store: for tests and for read models that live in memory. It has no
 * transaction (`tx` is `undefined`): a commit runs `apply` and moves the checkpoint only if `apply` did
 * not throw, so a read model that writes only after its last possible failure moves with it.
 *
 * @example
 * import { createMemoryCheckpointStore, defineProjector } from "x3m-system";
 * const projector = defineProjector({ name: "balances", source: store, checkpoints: createMemoryCheckpointStore(), handle });
 */
export function createMemoryCheckpointStore(): CheckpointStore<undefined> {
  const positions = new Map<string, number>();
  const tails = new Map<string, Promise<unknown>>();

  // Commits and resets of one name run one after another: with an async `apply`, the check and the
  // move would otherwise interleave and two commits with the same `expected` could both win. A reset of
  // several names waits for all of them and holds them all.
  const exclusive = <T>(names: readonly string[], work: () => Promise<T>): Promise<T> => {
    const run = Promise.all(names.map((name) => tails.get(name))).then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    for (const name of names) tails.set(name, tail);
    void tail.then(() => {
      for (const name of names) if (tails.get(name) === tail) tails.delete(name);
    });
    return run;
  };

  return {
    async load(name) {
      return positions.get(name) ?? 0;
    },
    commit(name, move, apply) {
      return exclusive([name], async () => {
        const refused = checkpointConflict(move, positions.get(name) ?? 0);
        if (refused) return refused;
        await apply(undefined);
        positions.set(name, move.next);
        return { ok: true };
      });
    },
    reset(name, apply) {
      return exclusive([name], async () => {
        await apply?.(undefined);
        positions.delete(name);
      });
    },
    resetMany(names, apply) {
      return exclusive(names, async () => {
        await apply?.(undefined);
        for (const name of names) positions.delete(name);
      });
    },
  };
}
