// Offline-first sync in a real browser against the playground Worker under `wrangler dev`: tabs share
// one IndexedDB database, run commands offline, and one tab at a time syncs every tab's queue.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../wrangler-dev.ts";
import { type BrowserHarness, ENGINE_LABEL, type Page, runScenario, startBrowserHarness } from "./harness.ts";

let edge: WranglerDev | undefined;
let harness: BrowserHarness;
let round = 0;

beforeAll(async () => {
  edge = await startWranglerDev();
  harness = await startBrowserHarness(
    { "sync-scenarios": "test/browser/pages/sync-scenarios.ts" },
    { edge: edge.origin },
  );
}, 120_000);
afterAll(async () => {
  await harness?.[Symbol.asyncDispose]();
  await edge?.[Symbol.asyncDispose]();
});

interface Status {
  pending: number;
  rejected: number;
  leader: boolean;
  lastError: string | null;
}

async function openTab(db: string, tab: string, faultySeed?: number, batchSize?: number): Promise<Page> {
  const page = await harness.newPage();
  await runScenario(page, "setup", { db, tab, faultySeed, batchSize });
  return page;
}

/** Waits until the queue holds nothing but rejected commands (everything else confirmed and pulled). */
async function drained(page: Page) {
  for (let waited = 0; waited < 45_000; waited += 100) {
    const rows = await runScenario<{ status: string }[]>(page, "outbox");
    if (rows.every((row) => row.status === "rejected")) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the outbox did not drain: ${JSON.stringify(await runScenario(page, "outbox"))}`);
}

/** Waits until the tab's sync status shows `expected` (the status is refreshed shortly after each change). */
async function statusShows(page: Page, expected: Partial<Status>) {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const status = await runScenario<Status>(page, "status");
    if (Object.entries(expected).every(([key, value]) => status[key as keyof Status] === value)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(await runScenario<Status>(page, "status")).toMatchObject(expected);
}

type AccountView = { state: { balance: number; closed?: boolean }; tentative: number };

/** The tab's view of an account once `settled` holds for it (a pull lands shortly after the push it confirms). */
async function viewOnce(page: Page, id: string, settled: (view: AccountView) => boolean): Promise<AccountView> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const view = await runScenario<AccountView>(page, "view", { id });
    if (settled(view)) return view;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return runScenario<AccountView>(page, "view", { id });
}

describe(`offline-first sync (${ENGINE_LABEL} + local edge Worker)`, () => {
  it("events stored in IndexedDB survive a reload", async () => {
    const db = `reload-${++round}`;
    const page = await openTab(db, "t1");
    await runScenario(page, "setOnline", false);
    expect(
      await runScenario(page, "run", { service: "open_account", rawRequest: { id: `r-${round}`, owner: "Ada" } }),
    ).toMatchObject({ status: "created" });
    await runScenario(page, "deposits", { id: `r-${round}`, amounts: [5, 7] });
    await page.reload();
    await page.waitForFunction("globalThis.scenarios !== undefined");
    await runScenario(page, "setup", { db, tab: "t1" });
    await runScenario(page, "setOnline", false);
    const view = await runScenario<{ state: { balance: number }; version: number; tentative: number }>(page, "view", {
      id: `r-${round}`,
    });
    expect(view).toMatchObject({ state: { balance: 12 }, version: 2, tentative: 3 });
    await page.close();
  });

  it("offline, 100 commands in two tabs; back online through a network that drops responses and duplicates requests: each effect exactly once, in each tab's order, and both tabs converge", async () => {
    const db = `exactly-once-${++round}`;
    const id = `shared-${round}`;
    // Small batches, so the faulty network gets many requests to spoil.
    const left = await openTab(db, "left", 7, 8);
    const right = await openTab(db, "right", 11, 8);
    expect(await runScenario(left, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } })).toMatchObject(
      { status: "created" },
    );
    await drained(left);
    for (const page of [left, right]) await runScenario(page, "setOnline", false);
    const leftAmounts = Array.from({ length: 50 }, (_, i) => i + 1);
    const rightAmounts = Array.from({ length: 50 }, (_, i) => 1_000 + i);
    const [leftStatuses, rightStatuses] = await Promise.all([
      runScenario<string[]>(left, "deposits", { id, amounts: leftAmounts }),
      runScenario<string[]>(right, "deposits", { id, amounts: rightAmounts }),
    ]);
    expect(new Set([...leftStatuses, ...rightStatuses])).toEqual(new Set(["ok"]));
    await statusShows(left, { pending: 100 });
    await statusShows(right, { pending: 100 });

    for (const page of [left, right]) await runScenario(page, "setOnline", true);
    await drained(left);
    await drained(right);

    const edgeStream = await runScenario<{
      events: { data: { type: string; amount?: number }; metadata: { messageId?: string } }[];
    }>(left, "edgeEvents", { id });
    const deposits = edgeStream.events.filter((e) => e.data.type === "Deposited");
    expect(deposits).toHaveLength(100);
    expect(new Set(deposits.map((e) => e.metadata.messageId)).size).toBe(100);
    const amounts = deposits.map((e) => e.data.amount as number);
    expect(amounts.filter((a) => a < 1_000)).toEqual(leftAmounts);
    expect(amounts.filter((a) => a >= 1_000)).toEqual(rightAmounts);

    const expected = [...leftAmounts, ...rightAmounts].reduce((sum, a) => sum + a, 0);
    for (const page of [left, right]) {
      expect(await runScenario(page, "view", { id })).toMatchObject({
        state: { balance: expected },
        version: 100,
        confirmedVersion: 100,
        tentative: 0,
      });
    }
    // The faults really happened (otherwise this test proves nothing about them).
    const faults = [
      await runScenario<{ droppedResponses: number; duplicatedRequests: number }>(left, "network"),
      await runScenario<{ droppedResponses: number; duplicatedRequests: number }>(right, "network"),
    ];
    expect(faults.reduce((n, f) => n + f.droppedResponses, 0)).toBeGreaterThan(0);
    expect(faults.reduce((n, f) => n + f.duplicatedRequests, 0)).toBeGreaterThan(0);
    await left.close();
    await right.close();
  }, 120_000);

  it("commands queued by a tab that closed while offline are synced by another tab", async () => {
    const db = `orphans-${++round}`;
    const id = `orphan-${round}`;
    const closing = await openTab(db, "closing");
    await runScenario(closing, "setOnline", false);
    await runScenario(closing, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    await runScenario(closing, "deposits", { id, amounts: [3, 4] });
    await closing.close();
    const survivor = await openTab(db, "survivor");
    // The offline switch is stored with the database (it survives the tab): switch back to the browser's view.
    await runScenario(survivor, "setOnline", "auto");
    await drained(survivor);
    const edgeStream = await runScenario<{ events: { data: { type: string } }[] }>(survivor, "edgeEvents", { id });
    expect(edgeStream.events.map((e) => e.data.type)).toEqual(["AccountOpened", "Deposited", "Deposited"]);
    expect(await runScenario(survivor, "view", { id })).toMatchObject({ state: { balance: 7 }, tentative: 0 });
    await survivor.close();
  });

  it("a command the edge rejects is reported and the queue moves on", async () => {
    const db = `rejected-${++round}`;
    const closing = `closing-${round}`;
    const other = `other-${round}`;
    const page = await openTab(db, "solo");
    for (const id of [closing, other]) {
      await runScenario(page, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    }
    await drained(page);
    await runScenario(page, "setOnline", false);
    await runScenario(page, "deposits", { id: closing, amounts: [5] });
    await runScenario(page, "deposits", { id: other, amounts: [9] });
    // Meanwhile another device closes the first account on the edge.
    expect(await runScenario(page, "closeOnEdge", { id: closing })).toBe(200);
    await runScenario(page, "setOnline", true);
    await drained(page);
    await page.waitForFunction("globalThis.scenarios.rejected().length > 0");
    expect(await runScenario(page, "rejected")).toEqual([
      { service: "deposit", response: expect.objectContaining({ status: "validation_error" }) },
    ]);
    // The outbox drains when the edge has answered; the closed account's own events come with its pull.
    expect(await viewOnce(page, other, (view) => view.tentative === 0)).toMatchObject({
      state: { balance: 9 },
      tentative: 0,
    });
    expect(await viewOnce(page, closing, (view) => view.state.closed === true)).toMatchObject({
      state: { closed: true, balance: 0 },
      tentative: 0,
    });
    await statusShows(page, { pending: 0, rejected: 1 });
    await page.close();
  });
});
