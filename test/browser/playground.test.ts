// README's main job, end to end: `wrangler dev` runs the playground Worker with its Durable Objects
// locally, and a real browser (each engine of the suite) uses the page to open an account, deposit, and read the balance.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../wrangler-dev.ts";
import { type BrowserDriver, launchBrowser } from "./harness.ts";

let edge: WranglerDev | undefined;
let browser: BrowserDriver | undefined;
let origin = "";

beforeAll(async () => {
  edge = await startWranglerDev();
  origin = edge.origin;
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await edge?.[Symbol.asyncDispose]();
});

describe("playground (npm start)", () => {
  it("opens an account, deposits now and later (through an alarm) and reads the balance through the page", async () => {
    const page = await (browser as BrowserDriver).newPage();
    await page.goto(`${origin}/`);
    await page.fill("#id", `acc-${Date.now()}`);
    // Each answer is prepended to the log: wait for this call's own entry, not just a status that may be stale.
    const click = async (service: string, status: string) => {
      const before = await page.textContent("#log");
      await page.click(`button[data-service="${service}"]`);
      await page.waitForFunction(
        ([name, previous]) => {
          const log = document.getElementById("log")?.textContent ?? "";
          return log !== previous && log.startsWith(`${name} →`);
        },
        [service, before] as const,
      );
      expect(await page.textContent("#status")).toBe(status);
    };
    await click("open_account", "201");
    await click("deposit", "200");
    await click("balance", "200");
    expect(await page.textContent("#log")).toContain('"balance": 10');
    // "Deposit in 5 s": scheduled on the reminders object's alarm, delivered through the account's object.
    await click("deposit_later", "200");
    // Polls until the alarm has delivered (due after 5 s; a loaded CI machine may be later), 30 s at most.
    for (let waited = 0; waited < 30_000; waited += 1_000) {
      await page.waitForTimeout(1_000);
      await click("balance", "200");
      if ((await page.textContent("#log"))?.split("\n\n")[0]?.includes('"balance": 20')) break;
    }
    expect((await page.textContent("#log"))?.split("\n\n")[0]).toContain('"balance": 20');
    const unauthorized = await page.evaluate(
      async () => (await fetch("/x3m/dispatch", { method: "POST", body: "{}" })).status,
    );
    expect(unauthorized).toBe(401);
  });

  it("two tabs: see each other, call each other, run an account offline, sync, get a rejection and an alarm's deposit", async () => {
    const context = await (browser as BrowserDriver).newContext();
    const [a, b] = [await context.newPage(), await context.newPage()];
    for (const page of [a, b]) {
      await page.goto(`${origin}/`);
      await page.waitForSelector("body[data-tabs-ready]");
    }
    const idOf = async (page: typeof a) => (await page.textContent("#tab-id")) ?? "";
    const [aId, bId] = [await idOf(a), await idOf(b)];
    // The tabs list each other with their services, and call each other.
    await a.waitForSelector(`li[data-peer="${bId}"] button[data-greet]`);
    await a.click(`li[data-peer="${bId}"] button[data-greet]`);
    await b.waitForFunction(
      (caller) => document.getElementById("tab-log")?.textContent?.includes(`greeted by ${caller}`),
      aId,
    );

    const pending = (page: typeof a, n: number) =>
      page.waitForSelector(`#sync-status[data-pending="${n}"]`, { timeout: 30_000 });
    const confirmedEvents = (page: typeof a, n: number) =>
      page.waitForFunction(
        (count) => (document.getElementById("event-log")?.textContent?.match(/✔/g)?.length ?? 0) === count,
        n,
        { timeout: 30_000 },
      );
    await a.fill("#offline-id", `tabs-${Date.now()}`);
    await a.click('button[data-offline="open_account"]');
    await confirmedEvents(a, 1);

    // Offline: the deposit is answered at once, tentative, and queued; the other tab sees the queue too.
    await a.check("#offline-switch");
    await a.click('button[data-offline="deposit"]');
    await pending(a, 1);
    await pending(b, 1);
    expect(await a.textContent("#event-log")).toContain("(tentative)");
    await a.uncheck("#offline-switch");
    await pending(a, 0);
    await confirmedEvents(a, 2);

    // A deposit through the edge's alarm, 3 s later: poked, pulled, and said in the tab's log.
    await a.click("#deposit-later");
    await confirmedEvents(a, 3);
    await a.waitForFunction(() =>
      document.getElementById("tab-log")?.textContent?.includes('from the edge: {"type":"Deposited"'),
    );

    // The conflict the page describes: offline first, another device closes the account, a deposit
    // queues here, then online: the edge refuses it, the log says why, and the rejection is acknowledged.
    await a.click("#close-on-edge");
    await a.waitForFunction(() => document.getElementById("tab-log")?.textContent?.includes("another device closed"));
    await a.click('button[data-offline="deposit"]');
    await pending(a, 1);
    await a.uncheck("#offline-switch");
    await a.waitForSelector('#sync-status[data-rejected="1"]', { timeout: 30_000 });
    await a.waitForFunction(() =>
      /edge rejected deposit of 10 on tabs-\d+ \(message [0-9a-f-]+…\): validation_error: account is closed/.test(
        document.getElementById("tab-log")?.textContent ?? "",
      ),
    );
    // The outbox list renders on its own refresh, after the status and the log.
    await a.waitForSelector("#rejections button[data-ack]", { timeout: 30_000 });
    await a.screenshot({ path: `test/browser/artifacts/playground-rejected-${browser?.engine}.png`, fullPage: true });
    await a.click("#rejections button[data-ack]");
    await a.waitForSelector('#sync-status[data-rejected="0"]', { timeout: 30_000 });
    await a.screenshot({ path: `test/browser/artifacts/playground-tabs-${browser?.engine}.png`, fullPage: true });
    await context.close();
  }, 120_000);

  it("another browser profile: opening an existing account is explained when the edge refuses it; using it shows its state", async () => {
    const id = `shared-${Date.now()}`;
    const first = await (browser as BrowserDriver).newContext();
    const mine = await first.newPage();
    await mine.goto(`${origin}/`);
    await mine.waitForSelector("body[data-tabs-ready]");
    await mine.fill("#offline-id", id);
    await mine.click('button[data-offline="open_account"]');
    await mine.waitForFunction(
      () => (document.getElementById("event-log")?.textContent?.match(/✔/g)?.length ?? 0) === 1,
    );

    const second = await (browser as BrowserDriver).newContext(); // its own IndexedDB: another profile
    const theirs = await second.newPage();
    await theirs.goto(`${origin}/`);
    await theirs.waitForSelector("body[data-tabs-ready]");
    await theirs.fill("#offline-id", id);
    // Not known here yet: a deposit says how to get it, and the state panel says there is none.
    await theirs.click('button[data-offline="deposit"]');
    await theirs.waitForFunction(() =>
      document.getElementById("tab-log")?.textContent?.includes("this browser does not know account"),
    );
    expect(await theirs.textContent("#account-state")).toContain("no account");
    // Opening it again here is created locally, then refused by the edge, with the way out in the log.
    await theirs.click('button[data-offline="open_account"]');
    await theirs.waitForFunction(
      () =>
        document
          .getElementById("tab-log")
          ?.textContent?.includes('already exists on the edge, opened elsewhere: use "Use existing account"'),
      undefined,
      { timeout: 30_000 },
    );
    await theirs.click("#rejections button[data-ack]");
    await theirs.click("#use-existing");
    await theirs.waitForFunction(
      () => document.getElementById("event-log")?.textContent?.includes("AccountOpened"),
      undefined,
      { timeout: 30_000 },
    );
    await theirs.screenshot({
      path: `test/browser/artifacts/playground-existing-${browser?.engine}.png`,
      fullPage: true,
    });
    await first.close();
    await second.close();
  }, 120_000);
});
