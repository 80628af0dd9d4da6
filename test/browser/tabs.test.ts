// Tabs as nodes, in a real browser: several pages of one origin, one BroadcastChannel, the transport
// from x3m-system/broadcast-channel. Tabs closing, crashing and freezing mid-request, and hostile pages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itNeeds } from "./engine-gaps.ts";
import { type BrowserHarness, ENGINE_LABEL, type Page, runScenario, startBrowserHarness } from "./harness.ts";

let harness: BrowserHarness;
let channelCount = 0;
beforeAll(async () => {
  harness = await startBrowserHarness({ "tabs-scenarios": "test/browser/pages/tabs-scenarios.ts" });
});
afterAll(async () => {
  await harness?.[Symbol.asyncDispose]();
});

interface TabSpec {
  id: string;
  drainOnHide?: boolean;
  work?: "fast" | "slow";
  liveness?: { heartbeatMs: number; peerTimeoutMs: number };
}

/** Opens one page per spec, starts its node on a fresh channel, and waits until every tab knows every other. */
async function openTabs(specs: TabSpec[]): Promise<Record<string, Page>> {
  const channel = `tabs-${++channelCount}`;
  const pages: Record<string, Page> = {};
  for (const spec of specs) {
    const page = await harness.newPage();
    await runScenario(page, "start", { channel, ...spec });
    pages[spec.id] = page;
  }
  for (const page of Object.values(pages)) {
    await page.waitForFunction(`globalThis.scenarios.peers().length === ${specs.length - 1}`);
  }
  const workers = specs.filter((spec) => spec.work).length;
  for (const page of Object.values(pages)) {
    await page.waitForFunction(`globalThis.scenarios.providers("work").length >= ${Math.min(workers, 1)}`);
  }
  return pages;
}

const tab = (pages: Record<string, Page>, id: string): Page => {
  const page = pages[id];
  if (!page) throw new Error(`no tab ${id}`);
  return page;
};

async function closeAll(pages: Record<string, Page>) {
  for (const page of Object.values(pages)) if (!page.isClosed()) await page.close();
}

describe(`tabs as nodes over BroadcastChannel (${ENGINE_LABEL})`, () => {
  it("passes the transport contract inside a page", async () => {
    const page = await harness.newPage();
    const result = await runScenario<{ cases: number; failures: string[] }>(page, "contract", "contract");
    expect(result.failures).toEqual([]);
    expect(result.cases).toBeGreaterThanOrEqual(5);
    await page.close();
  });

  it("two tabs dispatch to each other's public services, never to each other's private ones", async () => {
    const pages = await openTabs([{ id: "left" }, { id: "right" }]);
    expect(await runScenario(tab(pages, "left"), "dispatch", { service: "hello_right" })).toEqual({
      status: "ok",
      payload: { tab: "right", caller: "left" },
    });
    expect(await runScenario(tab(pages, "right"), "dispatch", { service: "hello_left" })).toEqual({
      status: "ok",
      payload: { tab: "left", caller: "right" },
    });
    expect(await runScenario(tab(pages, "left"), "dispatch", { service: "secret_right" })).toEqual({
      status: "service_unavailable",
      service: "secret_right",
      unknown: true,
    });
    await closeAll(pages);
  });

  it("three tabs: every tab reaches every other tab's services", async () => {
    const ids = ["a", "b", "c"];
    const pages = await openTabs(ids.map((id) => ({ id })));
    for (const from of ids) {
      for (const to of ids.filter((id) => id !== from)) {
        expect(await runScenario(tab(pages, from), "dispatch", { service: `hello_${to}` })).toEqual({
          status: "ok",
          payload: { tab: to, caller: from },
        });
      }
    }
    await closeAll(pages);
  });

  it("a tab closed mid-request: the caller gets the next provider at once, not the (10 minute) timeout", async () => {
    const pages = await openTabs([{ id: "slow", work: "slow" }, { id: "fast", work: "fast" }, { id: "caller" }]);
    await tab(pages, "caller").waitForFunction(`globalThis.scenarios.providers("work").length === 2`);
    await runScenario(tab(pages, "caller"), "startDispatch", { service: "work", first: "slow" });
    await tab(pages, "slow").waitForFunction("globalThis.scenarios.handledCount() === 1");
    await tab(pages, "slow").close();
    expect(await runScenario(tab(pages, "caller"), "settled")).toEqual({ status: "ok", payload: "fast" });
    await closeAll(pages);
  });

  it("a tab that drains on pagehide: peers hear it draining, then leaving, and its request goes elsewhere", async () => {
    const pages = await openTabs([
      { id: "leaving", work: "slow", drainOnHide: true },
      { id: "fast", work: "fast" },
      { id: "caller" },
    ]);
    await tab(pages, "caller").waitForFunction(`globalThis.scenarios.providers("work").length === 2`);
    await runScenario(tab(pages, "caller"), "startDispatch", { service: "work", first: "leaving" });
    await tab(pages, "leaving").waitForFunction("globalThis.scenarios.handledCount() === 1");
    // Navigating away fires pagehide (closing through the automation protocol may skip it).
    await tab(pages, "leaving").goto("about:blank");
    expect(await runScenario(tab(pages, "caller"), "settled")).toEqual({ status: "ok", payload: "fast" });
    expect(await runScenario(tab(pages, "caller"), "peerEvents")).toEqual(["draining:leaving", "left:leaving"]);
    await closeAll(pages);
  });

  itNeeds(
    "crashOnePage",
    "a tab that crashes mid-request (no pagehide, no goodbye) is noticed through its Web Lock",
    async () => {
      const pages = await openTabs([{ id: "doomed", work: "slow" }, { id: "fast", work: "fast" }, { id: "caller" }]);
      await tab(pages, "caller").waitForFunction(`globalThis.scenarios.providers("work").length === 2`);
      await runScenario(tab(pages, "caller"), "startDispatch", { service: "work", first: "doomed" });
      await tab(pages, "doomed").waitForFunction("globalThis.scenarios.handledCount() === 1");
      // Its renderer dies (Chromium: CDP's Page.crash; Firefox: its content process is killed). The default
      // heartbeat (2 s / 6 s) is too slow to be what notices here: the released Web Lock is.
      await harness.crash(tab(pages, "doomed"));
      expect(await runScenario(tab(pages, "caller"), "settled")).toEqual({ status: "ok", payload: "fast" });
      await closeAll(pages);
    },
  );

  it("a hung tab (holds its lock, answers nothing) is probed, dropped, and its request goes to the next provider", async () => {
    const liveness = { heartbeatMs: 300, peerTimeoutMs: 900 };
    const pages = await openTabs([
      { id: "hung", work: "slow", liveness },
      { id: "fast", work: "fast", liveness },
      { id: "caller", liveness },
    ]);
    await tab(pages, "caller").waitForFunction(`globalThis.scenarios.providers("work").length === 2`);
    await runScenario(tab(pages, "caller"), "startDispatch", { service: "work", first: "hung" });
    await tab(pages, "hung").waitForFunction("globalThis.scenarios.handledCount() === 1");
    await runScenario(tab(pages, "hung"), "hang");
    expect(await runScenario(tab(pages, "caller"), "settled")).toEqual({ status: "ok", payload: "fast" });
    expect(await runScenario(tab(pages, "caller"), "peers")).toEqual(["fast"]);
    // A hung page cannot be closed politely (on WebKit this also ends the context's other pages).
    await harness.crash(tab(pages, "hung"));
    delete pages.hung;
    await closeAll(pages);
  });

  it("a rogue page posting malformed and forged frames crashes nothing and reaches no handler", async () => {
    const pages = await openTabs([{ id: "target", work: "fast" }, { id: "caller" }]);
    const rogue = await harness.newPage();
    const posted = await runScenario<number>(rogue, "rogue", { channel: `tabs-${channelCount}`, target: "target" });
    await tab(pages, "target").waitForFunction(`globalThis.scenarios.rejectedReasons().length >= ${posted - 2}`);
    expect(await runScenario(tab(pages, "target"), "handledCount")).toBe(0);
    expect(await tab(pages, "target").evaluate("({}).polluted")).toBeUndefined();
    // The cluster still works.
    expect(await runScenario(tab(pages, "caller"), "dispatch", { service: "work" })).toEqual({
      status: "ok",
      payload: "target",
    });
    await rogue.close();
    await closeAll(pages);
  });
});
