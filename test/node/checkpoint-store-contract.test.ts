import { describe, expect, it } from "vitest";
import { type CheckpointStore, checkpointConflict, createMemoryCheckpointStore } from "../../src/projector/index.ts";
import { checkpointStoreContract } from "../../src/testing/checkpoint-store-contract.ts";

describe("checkpoint store contract: memory", () => {
  for (const contractCase of checkpointStoreContract(() => createMemoryCheckpointStore(), { resetMany: true })) {
    it(contractCase.name, () => contractCase.run());
  }
});

describe("checkpoint store contract: catches broken stores", () => {
  async function failures(makeStore: () => CheckpointStore, resetMany = false): Promise<string[]> {
    const failed: string[] = [];
    for (const contractCase of checkpointStoreContract(makeStore, { resetMany })) {
      await contractCase.run().catch(() => failed.push(contractCase.name));
    }
    return failed;
  }

  it("a store that moves the checkpoint before apply succeeds", async () => {
    const broken = (): CheckpointStore => {
      const memory = createMemoryCheckpointStore();
      const positions = new Map<string, number>();
      return {
        ...memory,
        load: async (name) => positions.get(name) ?? 0,
        commit: async (name, move, apply) => {
          const refused = checkpointConflict(move, positions.get(name) ?? 0);
          if (refused) return refused;
          positions.set(name, move.next);
          await apply(undefined);
          return { ok: true };
        },
      };
    };
    expect(await failures(broken)).toContain(
      "an apply that throws leaves the checkpoint where it was and rejects with its error",
    );
  });

  it("a store that does not compare before it sets", async () => {
    const broken = (): CheckpointStore => {
      const positions = new Map<string, number>();
      return {
        load: async (name) => positions.get(name) ?? 0,
        commit: async (name, move, apply) => {
          await apply(undefined);
          positions.set(name, move.next);
          return { ok: true };
        },
        reset: async (name, apply) => {
          await apply?.(undefined);
          positions.delete(name);
        },
      };
    };
    expect(await failures(broken)).toEqual(
      expect.arrayContaining([
        "a commit from another position is refused with the actual one, without running apply",
        "concurrent commits from the same position: exactly one wins",
      ]),
    );
  });

  it("a resetMany that resets one name after another, or that does not wait for a commit in flight", async () => {
    const oneByOne = (): CheckpointStore => {
      const memory = createMemoryCheckpointStore();
      return {
        ...memory,
        resetMany: async (names, apply) => {
          for (const [i, name] of names.entries()) await memory.reset(name, i === names.length - 1 ? apply : undefined);
        },
      };
    };
    expect(await failures(oneByOne, true)).toEqual([
      "resetMany whose apply throws moves none of the checkpoints and rejects",
    ]);
    const impatient = (): CheckpointStore => {
      const positions = new Map<string, number>();
      return {
        load: async (name) => positions.get(name) ?? 0,
        commit: async (name, move, apply) => {
          const refused = checkpointConflict(move, positions.get(name) ?? 0);
          if (refused) return refused;
          await apply(undefined);
          positions.set(name, move.next);
          return { ok: true };
        },
        reset: async (name, apply) => {
          await apply?.(undefined);
          positions.delete(name);
        },
        resetMany: async (names, apply) => {
          await apply?.(undefined);
          for (const name of names) positions.delete(name);
        },
      };
    };
    expect(await failures(impatient, true)).toContain(
      "resetMany called while a commit of one of its names is in flight runs after that commit",
    );
  });
});
