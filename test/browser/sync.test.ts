// Offline-first sync (protocol 2) in a real browser (each engine) against the playground Worker under `wrangler dev`:
// tabs share one IndexedDB database, run commands offline, and one tab at a time syncs every tab's queue.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  conflicts: number;
  leader: boolean;
  lastError: string | null;
}

interface View {
  state: { balance: number; closed: boolean };
  version: number;
  confirmedVersion: number;
  tentative: number;
  failing: number;
}

interface EdgeStream {
  events: { data: { type: string; amount?: number }; metadata: { messageId?: string } }[];
  version: number;
}

async function openTab(db: string, tab: string, options: { faults?: { seed: number }; batchSize?: number } = {}) {
  const page = await harness.newPage();
  await runScenario(page, "setup", { db, tab, ...options });
  return page;
}

/** Polls `read` until `done` holds for what it read (the sync loop runs on its own), then answers it. */
async function until<T>(page: Page, read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let waited = 0; waited < 60_000; waited += 100) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `timed out waiting for ${what}: ${JSON.stringify(await read())} (status ${JSON.stringify(await runScenario(page, "status"))})`,
  );
}

/** Waits until the tab's view of `id` is confirmed up to `version` with nothing tentative left. */
const confirmed = (page: Page, id: string, version: number) =>
  until(
    page,
    () => runScenario<View>(page, "view", { id }),
    (view) => view.confirmedVersion === version && view.tentative === 0,
    `${id} confirmed at version ${version}`,
  );

/** Waits until the queue holds nothing but rejected commands. */
const drained = (page: Page) =>
  until(
    page,
    () => runScenario<{ status: string }[]>(page, "outbox"),
    (rows) => rows.every((row) => row.status === "rejected"),
    "the outbox to drain",
  );

/** Waits for the tab's one rejection report, then checks it: the withdraw of `amount`, for insufficient funds. */
async function rejectedWithdraw(page: Page, amount: number): Promise<void> {
  await until(
    page,
    () => runScenario<unknown[]>(page, "rejected"),
    (r) => r.length === 1,
    "the rejection report",
  );
  expect(await runScenario(page, "rejected")).toEqual([
    { service: "withdraw", amount, response: { status: "error", reason: "insufficient_funds" } },
  ]);
}

const edgeStream = (page: Page, id: string) => runScenario<EdgeStream>(page, "edgeEvents", { id });
const depositAmounts = (stream: EdgeStream) =>
  stream.events.filter((e) => e.data.type === "Deposited").map((e) => e.data.amount as number);

describe(`offline-first sync (${ENGINE_LABEL} + local edge Worker)`, () => {
  it("events stored in IndexedDB survive a reload", async () => {
    const db = `reload-${++round}`;
    const id = `r-${round}`;
    const page = await openTab(db, "t1");
    await runScenario(page, "setOnline", false);
    expect(await runScenario(page, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } })).toMatchObject(
      { status: "created" },
    );
    await runScenario(page, "deposits", { id, amounts: [5, 7] });
    await page.reload();
    await page.waitForFunction("globalThis.scenarios !== undefined");
    await runScenario(page, "setup", { db, tab: "t1" });
    await runScenario(page, "setOnline", false);
    expect(await runScenario(page, "view", { id })).toMatchObject({ state: { balance: 12 }, version: 2, tentative: 3 });
    await page.close();
  });

  it("three tabs, 300 commands offline, then a network that drops, duplicates, reorders and delays: each effect exactly once, in each tab's order, and the tabs converge", async () => {
    const db = `exactly-once-${++round}`;
    const id = `shared-${round}`;
    const tabs = [
      await openTab(db, "left", { faults: { seed: 7 }, batchSize: 20 }),
      await openTab(db, "middle", { faults: { seed: 11 }, batchSize: 20 }),
      await openTab(db, "right", { faults: { seed: 13 }, batchSize: 20 }),
    ] as const;
    await runScenario(tabs[0], "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    await confirmed(tabs[0], id, 0);
    for (const page of tabs) await runScenario(page, "setOnline", false);
    const amounts = tabs.map((_, t) => Array.from({ length: 100 }, (_, i) => (t + 1) * 1_000 + i));
    const answers = await Promise.all(
      tabs.map((page, t) => runScenario<{ status: string }[]>(page, "deposits", { id, amounts: amounts[t] })),
    );
    expect(new Set(answers.flat().map((answer) => answer.status))).toEqual(new Set(["ok"]));
    for (const page of tabs) await runScenario(page, "setOnline", true);
    for (const page of tabs) await confirmed(page, id, 300);

    const stream = await edgeStream(tabs[0], id);
    const deposits = stream.events.filter((e) => e.data.type === "Deposited");
    expect(deposits).toHaveLength(300);
    expect(new Set(deposits.map((e) => e.metadata.messageId)).size).toBe(300);
    for (const [t, mine] of amounts.entries()) {
      expect(depositAmounts(stream).filter((a) => a >= (t + 1) * 1_000 && a < (t + 2) * 1_000)).toEqual(mine);
    }
    const expected = amounts.flat().reduce((sum, a) => sum + a, 0);
    for (const page of tabs) {
      expect(await runScenario(page, "view", { id })).toMatchObject({ state: { balance: expected }, version: 300 });
    }
    // The faults really happened (otherwise this test proves nothing about them).
    const faults = await Promise.all(tabs.map((page) => runScenario<Record<string, number>>(page, "network")));
    for (const kind of ["droppedResponses", "duplicatedRequests", "reordered", "delayed"]) {
      expect(
        faults.reduce((n, f) => n + (f[kind] ?? 0), 0),
        kind,
      ).toBeGreaterThan(0);
    }
    for (const page of tabs) await page.close();
  }, 120_000);

  it("a deposit whose push answer was lost, re-pushed after 10,000 newer commands on the account, is applied once", async () => {
    const db = `window-${++round}`;
    const id = `window-${round}`;
    const page = await openTab(db, "solo");
    await runScenario(page, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    await confirmed(page, id, 0);
    await runScenario(page, "setOnline", false);
    await runScenario(page, "deposits", { id, amounts: [250] });
    await runScenario(page, "losePushAnswers", true); // the edge applies it; the tab never hears (nor on retries)
    await runScenario(page, "setOnline", true);
    await until(
      page,
      () => runScenario<Status>(page, "status"),
      (s) => s.lastError !== null,
      "the lost answer",
    );
    expect(await runScenario(page, "otherClientDeposits", { id, count: 10_000 })).toBe(10_000);
    await runScenario(page, "losePushAnswers", false);
    await drained(page);
    await confirmed(page, id, 10_001);
    const stream = await edgeStream(page, id);
    expect(depositAmounts(stream).filter((a) => a === 250)).toHaveLength(1);
    expect(await runScenario(page, "view", { id })).toMatchObject({ state: { balance: 10_250 }, version: 10_001 });
    await page.close();
  }, 120_000);

  it("a refused command whose answer was lost is re-sent after the state changed: it gets its first answer and never runs", async () => {
    const db = `refused-${++round}`;
    const id = `refused-${round}`;
    const page = await openTab(db, "solo");
    await runScenario(page, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    await runScenario(page, "deposits", { id, amounts: [100] });
    await confirmed(page, id, 1);
    await runScenario(page, "setOnline", false);
    expect(await runScenario(page, "run", { service: "withdraw", rawRequest: { id, amount: 80 } })).toMatchObject({
      status: "ok",
    });
    expect(await runScenario(page, "dispatchOnEdge", { service: "withdraw", rawRequest: { id, amount: 50 } })).toBe(
      200,
    );
    await runScenario(page, "losePushAnswers", true); // the edge refuses the withdraw of 80; the tab never hears
    await runScenario(page, "setOnline", true);
    await until(
      page,
      () => runScenario<Status>(page, "status"),
      (s) => s.lastError !== null,
      "the lost answer",
    );
    // The state changes before the re-push: with 200 more, a second run of the withdraw would succeed.
    expect(await runScenario(page, "dispatchOnEdge", { service: "deposit", rawRequest: { id, amount: 200 } })).toBe(
      200,
    );
    await runScenario(page, "losePushAnswers", false);
    await rejectedWithdraw(page, 80);
    const types = (await edgeStream(page, id)).events.map((e) => e.data.type);
    expect(types).toEqual(["AccountOpened", "Deposited", "Withdrawn", "WithdrawalRejected", "Deposited"]);
    await page.close();
  }, 60_000);

  it("a rejection in the middle of a queue: reported once per tab, the commands behind it rebased and applied", async () => {
    const db = `middle-${++round}`;
    const id = `middle-${round}`;
    const [first, second] = [await openTab(db, "first"), await openTab(db, "second")];
    await runScenario(first, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    await runScenario(first, "deposits", { id, amounts: [10] });
    await confirmed(first, id, 1);
    for (const page of [first, second]) await runScenario(page, "setOnline", false);
    await runScenario(first, "run", { service: "withdraw", rawRequest: { id, amount: 8 } }); // fits locally
    await runScenario(second, "deposits", { id, amounts: [5] });
    await runScenario(first, "run", { service: "withdraw", rawRequest: { id, amount: 6 } }); // fits after the deposit
    // Meanwhile the edge (another device) takes 7: the first withdraw no longer fits there.
    expect(await runScenario(first, "dispatchOnEdge", { service: "withdraw", rawRequest: { id, amount: 7 } })).toBe(
      200,
    );
    for (const page of [first, second]) await runScenario(page, "setOnline", true);
    await drained(first);
    for (const page of [first, second]) await confirmed(page, id, 5);
    for (const page of [first, second]) {
      await rejectedWithdraw(page, 8);
      // 10 - 7 (the edge) + 5 (second tab) - 6 (third command, applied on the rebased state) = 2.
      expect(await runScenario(page, "view", { id })).toMatchObject({ state: { balance: 2 }, version: 5 });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const page of [first, second]) expect(await runScenario<unknown[]>(page, "rejected")).toHaveLength(1);
    for (const page of [first, second]) await page.close();
  }, 60_000);

  it("a duplicated tab (its session storage copied) gets the database's client id and its own sequence numbers: no collision", async () => {
    const db = `duplicate-${++round}`;
    const id = `duplicate-${round}`;
    const original = await openTab(db, "original");
    await runScenario(original, "setOnline", false);
    await runScenario(original, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    const duplicate = await harness.newPage();
    await runScenario(duplicate, "copySessionStorage", await runScenario(original, "sessionStorage"));
    await runScenario(duplicate, "setup", { db, tab: "duplicate" });
    expect(await runScenario(original, "sessionStorageKeys")).toEqual([]); // nothing of the client lives there
    expect(await runScenario(duplicate, "clientId")).toBe(await runScenario(original, "clientId"));
    await Promise.all([
      runScenario(original, "deposits", { id, amounts: [1, 2, 3, 4, 5] }),
      runScenario(duplicate, "deposits", { id, amounts: [10, 20, 30, 40, 50] }),
    ]);
    const rows = await runScenario<{ clientSeq: number }[]>(original, "outbox");
    expect(rows.map((row) => row.clientSeq).sort((a, b) => a - b)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    await runScenario(original, "setOnline", true);
    await confirmed(duplicate, id, 10);
    expect(depositAmounts(await edgeStream(original, id)).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 10, 20, 30, 40, 50,
    ]);
    for (const page of [original, duplicate]) await page.close();
  }, 60_000);

  it("two tabs writing one account offline see each other's commands at once (the stream's stamp)", async () => {
    const db = `stamp-${++round}`;
    const id = `stamp-${round}`;
    const [a, b] = [await openTab(db, "a"), await openTab(db, "b")];
    await runScenario(a, "setOnline", false);
    await runScenario(a, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    const versions: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const answer = await runScenario<{ version: number }>(i % 2 ? b : a, "run", {
        service: "deposit",
        rawRequest: { id, amount: i },
      });
      versions.push(answer.version);
    }
    expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
    // b withdraws what a's deposits made: b's host must see them.
    expect(await runScenario(b, "run", { service: "withdraw", rawRequest: { id, amount: 21 } })).toEqual({
      status: "ok",
      version: 7,
    });
    expect(await runScenario(a, "view", { id })).toMatchObject({ state: { balance: 0 }, version: 7 });
    for (const page of [a, b]) await page.close();
  });

  it("a change made through another client reaches this one by a live poke, long before its pull interval (an hour)", async () => {
    const id = `live-${++round}`;
    const liveUrl = `${edge?.origin.replace(/^http/, "ws")}/x3m/ws`;
    const [writer, reader] = [await openTab(`live-writer-${round}`, "writer"), await harness.newPage()];
    await runScenario(writer, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    await confirmed(writer, id, 0);
    await runScenario(reader, "setup", { db: `live-reader-${round}`, tab: "reader", liveUrl });
    await runScenario(reader, "track", { id });
    await confirmed(reader, id, 0); // the first round (on connecting) pulled the account
    // Another client (another browser profile: its own database) deposits; the reader only waits.
    await runScenario(writer, "deposits", { id, amounts: [42] });
    await confirmed(reader, id, 1);
    expect(await runScenario(reader, "view", { id })).toMatchObject({ state: { balance: 42 }, tentative: 0 });
    for (const page of [writer, reader]) await page.close();
  });

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
    await confirmed(survivor, id, 2);
    expect((await edgeStream(survivor, id)).events.map((e) => e.data.type)).toEqual([
      "AccountOpened",
      "Deposited",
      "Deposited",
    ]);
    expect(await runScenario(survivor, "view", { id })).toMatchObject({ state: { balance: 7 }, tentative: 0 });
    await survivor.close();
  });
});

describe(`offline-first sync when the edge dies mid-push (${ENGINE_LABEL})`, () => {
  it("the Worker killed and restarted in the middle of a push: nothing lost, nothing doubled", async () => {
    const state = mkdtempSync(join(tmpdir(), "x3m-restart-"));
    const own = await startWranglerDev({ persistTo: state });
    await using pages = await startBrowserHarness(
      { "sync-scenarios": "test/browser/pages/sync-scenarios.ts" },
      { edge: own.origin },
    );
    const db = `killed-${++round}`;
    const id = `killed-${round}`;
    const page = await pages.newPage();
    await runScenario(page, "setup", { db, tab: "solo", batchSize: 25 });
    await runScenario(page, "run", { service: "open_account", rawRequest: { id, owner: "Ada" } });
    await confirmed(page, id, 0);
    await runScenario(page, "setOnline", false);
    const amounts = Array.from({ length: 200 }, (_, i) => i + 1);
    await runScenario(page, "deposits", { id, amounts });
    await runScenario(page, "setOnline", true);
    // Kill it as soon as part of the queue is through: the next push is cut off in flight or never answered.
    await until(
      page,
      () => runScenario<{ status: string }[]>(page, "outbox"),
      (rows) => rows.length < 200,
      "the first pushes",
    );
    await own.kill();
    let restarted: WranglerDev | undefined;
    for (let attempt = 0; attempt < 20 && !restarted; attempt++) {
      restarted = await startWranglerDev({ port: own.port, persistTo: own.state }).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 250)); // the old process may still hold the port
        return undefined;
      });
    }
    try {
      expect(restarted).toBeDefined();
      await confirmed(page, id, 200);
      const stream = await edgeStream(page, id);
      expect(depositAmounts(stream)).toEqual(amounts);
      expect(new Set(stream.events.map((e) => e.metadata.messageId)).size).toBe(201);
      expect(await runScenario(page, "view", { id })).toMatchObject({ state: { balance: 20_100 }, version: 200 });
    } finally {
      await page.close();
      await restarted?.stop();
      await own.stop();
      rmSync(state, { recursive: true, force: true });
    }
  }, 180_000);
});
