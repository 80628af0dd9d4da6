import type { CheckpointStore } from "../projector/checkpoint-store.ts";
import type { ContractCase } from "./transport-contract.ts";

function fail(message: string): never {
  throw new Error(`checkpoint store contract: ${message}`);
}

function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

async function rejects(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return fail(`${what} did not reject`);
}

/**
 * The behaviour every `CheckpointStore` must have, as framework-agnostic cases (each makes a fresh
 * store). It checks the checkpoint side only; a store's own tests check that `tx` writes commit with it.
 * A store that offers the optional `resetMany` declares it (`{ resetMany: true }`) to get its cases too.
 *
 * @example
 * import { checkpointStoreContract } from "x3m-system/testing";
 * for (const c of checkpointStoreContract(() => createMemoryCheckpointStore())) it(c.name, () => c.run());
 */
export function checkpointStoreContract<TTx>(
  makeStore: () => CheckpointStore<TTx> | Promise<CheckpointStore<TTx>>,
  capabilities: { readonly resetMany?: boolean } = {},
): ContractCase[] {
  const withStore = (body: (store: CheckpointStore<TTx>) => Promise<void>) => async () => body(await makeStore());
  return [...baseCases(withStore), ...(capabilities.resetMany ? resetManyCases(withStore) : [])];
}

type WithStore<TTx> = (body: (store: CheckpointStore<TTx>) => Promise<void>) => () => Promise<void>;

/** The cases of `resetMany`, for stores that declare it (`checkpointStoreContract(make, { resetMany: true })`). */
function resetManyCases<TTx>(withStore: WithStore<TTx>): ContractCase[] {
  const resetManyOf = (store: CheckpointStore<TTx>) =>
    store.resetMany?.bind(store) ?? fail("the store declares resetMany but has none");
  return [
    {
      name: "resetMany puts every named checkpoint back to 0 with one apply; other names keep theirs",
      run: withStore(async (store) => {
        for (const [name, next] of [
          ["s0", 4],
          ["s1", 2],
          ["other", 9],
        ] as const) {
          await store.commit(name, { expected: 0, next }, () => {});
        }
        let truncated = 0;
        await resetManyOf(store)(["s0", "s1", "s2"], () => void truncated++);
        equal(truncated, 1, "apply runs once");
        equal(
          [await store.load("s0"), await store.load("s1"), await store.load("s2"), await store.load("other")],
          [0, 0, 0, 9],
          "positions",
        );
        equal(await store.commit("s1", { expected: 0, next: 1 }, () => {}), { ok: true }, "a commit after it");
      }),
    },
    {
      name: "resetMany whose apply throws moves none of the checkpoints and rejects",
      run: withStore(async (store) => {
        await store.commit("s0", { expected: 0, next: 3 }, () => {});
        await store.commit("s1", { expected: 0, next: 5 }, () => {});
        await rejects(
          resetManyOf(store)(["s0", "s1"], async () => Promise.reject(new Error("truncate failed"))),
          "a resetMany whose apply rejects",
        );
        equal([await store.load("s0"), await store.load("s1")], [3, 5], "positions");
      }),
    },
    {
      name: "resetMany called while a commit of one of its names is in flight runs after that commit",
      run: withStore(async (store) => {
        let applied = 0;
        const commit = store.commit("s1", { expected: 0, next: 6 }, async () => {
          await new Promise<void>((resolve) => queueMicrotask(resolve));
          applied++;
        });
        const reset = resetManyOf(store)(["s0", "s1"]);
        equal(await commit, { ok: true }, "the commit");
        await reset;
        equal(applied, 1, "apply runs");
        equal([await store.load("s0"), await store.load("s1")], [0, 0], "positions");
      }),
    },
  ];
}

function baseCases<TTx>(withStore: WithStore<TTx>): ContractCase[] {
  return [
    {
      name: "a projector that never committed is at position 0",
      run: withStore(async (store) => {
        equal(await store.load("p"), 0, "load");
      }),
    },
    {
      name: "a commit from the stored position runs apply once, then moves the checkpoint",
      run: withStore(async (store) => {
        let applied = 0;
        equal(await store.commit("p", { expected: 0, next: 1 }, () => void applied++), { ok: true }, "first commit");
        equal(
          await store.commit("p", { expected: 1, next: 4 }, async () => {
            await Promise.resolve();
            applied++;
          }),
          { ok: true },
          "async apply covering several positions",
        );
        equal(applied, 2, "apply runs");
        equal(await store.load("p"), 4, "load");
      }),
    },
    {
      name: "a commit from another position is refused with the actual one, without running apply",
      run: withStore(async (store) => {
        await store.commit("p", { expected: 0, next: 3 }, () => {});
        let applied = 0;
        const count = () => void applied++;
        equal(
          await store.commit("p", { expected: 1, next: 2 }, count),
          { ok: false, reason: "ignored", actual: 3 },
          "a move the checkpoint already covers",
        );
        await store.commit("p", { expected: 3, next: 4 }, count);
        equal(
          await store.commit("p", { expected: 3, next: 4 }, count),
          { ok: false, reason: "ignored", actual: 4 },
          "the same commit twice",
        );
        equal(
          await store.commit("p", { expected: 2, next: 9 }, count),
          { ok: false, reason: "mismatch", actual: 4 },
          "a move from behind the checkpoint",
        );
        equal(
          await store.commit("p", { expected: 5, next: 6 }, count),
          { ok: false, reason: "mismatch", actual: 4 },
          "a move from ahead of the checkpoint",
        );
        equal(applied, 1, "apply runs (only the accepted commit)");
        equal(await store.load("p"), 4, "load");
      }),
    },
    {
      name: "an apply that throws leaves the checkpoint where it was and rejects with its error",
      run: withStore(async (store) => {
        await store.commit("p", { expected: 0, next: 1 }, () => {});
        const boom = new Error("boom");
        const sync = await rejects(
          store.commit("p", { expected: 1, next: 2 }, () => {
            throw boom;
          }),
          "a commit whose apply throws",
        );
        if (sync !== boom) fail("the commit did not reject with apply's error");
        await rejects(
          store.commit("p", { expected: 1, next: 2 }, async () => Promise.reject(boom)),
          "a commit whose async apply rejects",
        );
        equal(await store.load("p"), 1, "load after the failed applies");
        equal(await store.commit("p", { expected: 1, next: 2 }, () => {}), { ok: true }, "the retried commit");
      }),
    },
    {
      name: "concurrent commits from the same position: exactly one wins",
      run: withStore(async (store) => {
        let applied = 0;
        const slowApply = async () => {
          await new Promise<void>((resolve) => queueMicrotask(resolve));
          applied++;
        };
        const results = await Promise.all(
          Array.from({ length: 5 }, (_, i) => store.commit("p", { expected: 0, next: i + 1 }, slowApply)),
        );
        equal(results.filter((r) => r.ok).length, 1, "winners");
        equal(applied, 1, "apply runs");
        const winner = results.findIndex((r) => r.ok) + 1;
        equal(await store.load("p"), winner, "load");
        for (const result of results) if (!result.ok) equal(result.actual, winner, "the losers' actual");
      }),
    },
    {
      name: "a move that is not a forward step between non-negative integers is rejected",
      run: withStore(async (store) => {
        for (const move of [
          { expected: 2, next: 2 },
          { expected: 3, next: 1 },
          { expected: -1, next: 0 },
          { expected: 0, next: 1.5 },
          { expected: 0, next: Number.NaN },
        ]) {
          await rejects(
            store.commit("p", move, () => {}),
            `commit ${move.expected} → ${move.next}`,
          );
        }
        equal(await store.load("p"), 0, "load");
      }),
    },
    {
      name: "reset puts the checkpoint back to 0 with its apply; a throwing apply leaves it unchanged",
      run: withStore(async (store) => {
        await store.commit("p", { expected: 0, next: 7 }, () => {});
        await rejects(
          store.reset("p", () => {
            throw new Error("truncate failed");
          }),
          "a reset whose apply throws",
        );
        equal(await store.load("p"), 7, "load after the failed reset");
        let truncated = 0;
        await store.reset("p", () => void truncated++);
        equal(truncated, 1, "apply runs");
        equal(await store.load("p"), 0, "load after reset");
        await store.reset("p");
        equal(await store.load("p"), 0, "load after a reset without apply");
        equal(await store.commit("p", { expected: 0, next: 1 }, () => {}), { ok: true }, "a commit after reset");
      }),
    },
    {
      name: "names are independent",
      run: withStore(async (store) => {
        await store.commit("a", { expected: 0, next: 5 }, () => {});
        await store.commit("b", { expected: 0, next: 2 }, () => {});
        await store.reset("b");
        equal([await store.load("a"), await store.load("b"), await store.load("c")], [5, 0, 0], "positions");
        equal(await store.commit("b", { expected: 0, next: 1 }, () => {}), { ok: true }, "commit on b");
      }),
    },
  ];
}
