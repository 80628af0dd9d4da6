// The IndexedDB adapter on each engine's real IndexedDB: every contract case runs inside a page, plus the
// failures fake-indexeddb cannot show (a real quota, another tab's upgrade, real auto-commit).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { X3M_SCHEMA_VERSION } from "../../adapters/indexeddb/index.ts";
import { checkpointStoreContract, eventStoreContract } from "../../src/testing/index.ts";
import { itNeeds } from "./engine-gaps.ts";
import { type BrowserHarness, ENGINE_LABEL, type Page, runScenario, startBrowserHarness } from "./harness.ts";

let harness: BrowserHarness;
beforeAll(async () => {
  harness = await startBrowserHarness({ "indexeddb-scenarios": "test/browser/pages/indexeddb-scenarios.ts" });
});
afterAll(async () => {
  await harness?.[Symbol.asyncDispose]();
});

type CaseResult = { ok: boolean; error: string | null };
type Failure = { sdk: boolean; code: string | null; reason: string | null; message: string } | null;

const unused = () => {
  throw new Error("only the case names are read here");
};

// The contract cases share one page: each case opens fresh databases and deletes them afterwards.
describe(`event store contract: IndexedDB in ${ENGINE_LABEL}`, () => {
  let page: Page;
  beforeAll(async () => {
    page = await harness.newPage();
  });
  afterAll(() => page?.close());
  for (const { name } of eventStoreContract(unused)) {
    it(name, async () => {
      const result = await runScenario<CaseResult>(page, "eventStoreCase", name);
      expect(result.error).toBeNull();
      expect(result.ok).toBe(true);
    });
  }
});

describe(`checkpoint store contract: IndexedDB in ${ENGINE_LABEL}`, () => {
  let page: Page;
  beforeAll(async () => {
    page = await harness.newPage();
  });
  afterAll(() => page?.close());
  for (const { name } of checkpointStoreContract(unused)) {
    it(name, async () => {
      const result = await runScenario<CaseResult>(page, "checkpointCase", name);
      expect(result.error).toBeNull();
      expect(result.ok).toBe(true);
    });
  }
});

describe(`IndexedDB adapter in ${ENGINE_LABEL}`, () => {
  it("failed appends are typed SdkClientErrors and leave versions and positions unchanged", async () => {
    const page = await harness.newPage();
    const result = await runScenario<{
      constraint: Failure;
      afterConstraint: { version: number; positions: number[] };
      clone: Failure;
      afterClone: { version: number; last: number };
      shared: unknown;
      aborted: Failure;
      afterAbort: { version: number; last: number; cursor: unknown };
      retried: unknown;
    }>(page, "halfWrittenAppends");
    expect(result.constraint).toMatchObject({ sdk: true, code: "STORAGE_FAILED", reason: "failed" });
    expect(result.constraint?.message).toMatch(/ConstraintError/);
    expect(result.afterConstraint).toEqual({ version: 0, positions: [1, 100] });
    expect(result.clone).toMatchObject({ sdk: true, code: "INVALID_MESSAGE", reason: "data_clone" });
    expect(result.afterClone).toEqual({ version: 0, last: 100 });
    expect(result.shared).toEqual({ ok: true, version: 1, firstPosition: 101, lastPosition: 101 });
    expect(result.aborted?.message).toMatch(/AbortError/);
    expect(result.afterAbort).toEqual({ version: 0, last: 100, cursor: null });
    expect(result.retried).toEqual({ ok: true, version: 1, firstPosition: 101, lastPosition: 101 });
    await page.close();
  });

  itNeeds(
    "storageQuota",
    "a write over the origin's quota is a typed quota_exceeded error and writes nothing",
    async () => {
      // A context of its own whose origin may store 2 MiB (Chromium: a CDP quota override; Firefox: the
      // profile's storage limit).
      const context = await harness.newContext({ storageQuota: { origin: harness.origin, bytes: 2 * 1024 * 1024 } });
      try {
        const page = await harness.newPage(context);
        const result = await runScenario<{ failure: Failure; after: { version: number; last: number } }>(
          page,
          "quota",
          8 * 1024 * 1024,
        );
        expect(result.failure).toMatchObject({ sdk: true, code: "STORAGE_QUOTA_EXCEEDED", reason: "quota_exceeded" });
        expect(result.after).toEqual({ version: 0, last: 1 });
      } finally {
        await context.close();
      }
    },
  );

  it("another tab's upgrade is not blocked: the store closes its connection, tells the app, and later calls reject", async () => {
    const name = `versionchange-${Date.now()}`;
    const holder = await harness.newPage();
    const upgrader = await harness.newPage();
    expect(await runScenario(holder, "holdStore", name)).toBe(true);
    expect(await runScenario(upgrader, "upgrade", name)).toEqual({ version: X3M_SCHEMA_VERSION + 1, blocked: false });
    const report = await runScenario<{ changes: number[]; append: Failure }>(holder, "heldReport");
    expect(report.changes).toEqual([X3M_SCHEMA_VERSION + 1]);
    expect(report.append).toMatchObject({ sdk: true, code: "STORAGE_FAILED", reason: "closed" });
    await holder.close();
    await upgrader.close();
  });

  it("a read-model write and its checkpoint commit or abort together; an apply that awaits elsewhere is reported", async () => {
    const page = await harness.newPage();
    const result = await runScenario<{
      committed: unknown;
      thrown: Failure;
      afterThrow: { balance: number; checkpoint: number };
      late: Failure;
      afterLate: number;
    }>(page, "checkpointAtomicity");
    expect(result.committed).toEqual({ ok: true });
    expect(result.thrown).toMatchObject({ sdk: false, message: "boom" });
    expect(result.afterThrow).toEqual({ balance: 5, checkpoint: 1 });
    expect(result.late).toMatchObject({ sdk: true, reason: "transaction_inactive" });
    expect(result.afterLate).toBe(1);
    await page.close();
  });

  it("a projector keeps a read model of the same database in step with the event store, and rebuilds it", async () => {
    const page = await harness.newPage();
    const result = await runScenario<{ caughtUp: boolean; live: unknown; rebuilt: unknown }>(page, "projector");
    const balances = [
      { account: "a", balance: 6 },
      { account: "b", balance: 2 },
    ];
    expect(result).toEqual({ caughtUp: true, live: balances, rebuilt: balances });
    await page.close();
  });
});
