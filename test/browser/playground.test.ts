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

    // A deposit through the edge's alarm, 3 s later, arrives with the next pull.
    await a.click("#deposit-later");
    await confirmedEvents(a, 3);

    // Offline again, deposit, and meanwhile another device closes the account: the edge rejects the deposit.
    await a.check("#offline-switch");
    await a.click('button[data-offline="deposit"]');
    await pending(a, 1);
    await a.click("#close-on-edge");
    // The close goes out from the click's handler: back online only once the edge has it.
    await a.waitForFunction(() =>
      document.getElementById("tab-log")?.textContent?.includes("close_account on the edge → HTTP 200"),
    );
    await a.uncheck("#offline-switch");
    await a.waitForSelector('#sync-status[data-rejected="1"]', { timeout: 30_000 });
    await a.waitForFunction(() => document.getElementById("tab-log")?.textContent?.includes("edge rejected deposit"));
    // The outbox list renders on its own refresh, after the status and the log.
    await a.waitForFunction(() => document.getElementById("outbox")?.textContent?.includes("rejected"));
    await a.screenshot({ path: `test/browser/artifacts/playground-tabs-${browser?.engine}.png`, fullPage: true });
    await context.close();
  }, 120_000);
});
