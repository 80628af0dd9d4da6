// The mesh features between tabs of a real browser, over x3m-system/broadcast-channel: pub/sub
// across tabs, cast across tabs, and a tab that drains while a request to it is in flight.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrowserHarness, ENGINE_LABEL, type Page, runScenario, startBrowserHarness } from "./harness.ts";

let harness: BrowserHarness;
let channelCount = 0;
beforeAll(async () => {
  harness = await startBrowserHarness({ "mesh-scenarios": "test/browser/pages/mesh-scenarios.ts" });
});
afterAll(async () => {
  await harness?.[Symbol.asyncDispose]();
});

interface TabSpec {
  id: string;
  work?: "fast" | "slow";
}

/** Opens one page per spec on a fresh channel and waits until every tab knows every other. */
async function openTabs(specs: TabSpec[]): Promise<(id: string) => Page> {
  const channel = `mesh-${++channelCount}`;
  const pages = new Map<string, Page>();
  for (const spec of specs) {
    const page = await harness.newPage();
    await runScenario(page, "start", { channel, ...spec });
    pages.set(spec.id, page);
  }
  for (const page of pages.values()) {
    await page.waitForFunction(`globalThis.scenarios.peers().length === ${specs.length - 1}`);
  }
  return (id) => {
    const page = pages.get(id);
    if (!page) throw new Error(`no tab ${id}`);
    return page;
  };
}

async function closeAll() {
  for (const page of harness.context.pages()) if (!page.isClosed()) await page.close();
}

const EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe(`mesh features between tabs (${ENGINE_LABEL}, BroadcastChannel)`, () => {
  it("pub/sub: a publication reaches every subscribed tab as a caused-by copy, in the publisher's trace", async () => {
    const tab = await openTabs([{ id: "publisher" }, { id: "reader-1" }, { id: "reader-2" }]);
    for (const id of ["publisher", "reader-1", "reader-2"]) {
      await runScenario(tab(id), "subscribe", { topic: "news", service: "on_news" });
    }
    await tab("publisher").waitForFunction(`globalThis.scenarios.subscribers("news").length === 3`);
    const result = await runScenario<{
      published: { id: string; correlationId: string };
      deliveries: Array<{ node: string; service: string; ok: boolean; outcome: unknown }>;
    }>(tab("publisher"), "publish", { topic: "news", price: 42, traceparent: EXAMPLE });
    expect(result.deliveries).toEqual([
      { node: "local", service: "on_news", ok: true, outcome: { status: "ok", payload: { tab: "publisher" } } },
      { node: "reader-1", service: "on_news", ok: true, outcome: { status: "ok", payload: { tab: "reader-1" } } },
      { node: "reader-2", service: "on_news", ok: true, outcome: { status: "ok", payload: { tab: "reader-2" } } },
    ]);
    for (const id of ["reader-1", "reader-2"]) {
      const [copy] = await runScenario<Array<Record<string, unknown>>>(tab(id), "received");
      expect(copy).toMatchObject({
        serviceName: "on_news",
        correlationId: result.published.correlationId,
        causationId: result.published.id,
        rawRequest: { price: 42 },
        assigns: { principal: { user: "ada" } },
        originNode: "publisher",
      });
      expect(String(copy?.traceparent)).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    }
    await closeAll();
  });

  it("cast: a tab accepts the message and returns before its handler finishes, which then runs to the end", async () => {
    const tab = await openTabs([{ id: "worker", work: "slow" }, { id: "caller" }]);
    await tab("caller").waitForFunction(`globalThis.scenarios.providers("work").length === 1`);
    expect(await runScenario(tab("caller"), "cast", "work")).toEqual({ accepted: true, node: "worker" });
    expect(await runScenario(tab("worker"), "handled")).toBe(1);
    expect(await runScenario(tab("worker"), "finished")).toBe(0);
    await runScenario(tab("worker"), "release");
    await tab("worker").waitForFunction("globalThis.scenarios.finished() === 1");
    expect(await runScenario(tab("caller"), "cast", "nobody")).toEqual({
      accepted: false,
      response: { status: "service_unavailable", service: "nobody", unknown: true },
    });
    await closeAll();
  });

  it("a tab drains while a request to it is in flight: peers stop choosing it, its answer still arrives, then it leaves", async () => {
    const tab = await openTabs([{ id: "leaving", work: "slow" }, { id: "staying", work: "fast" }, { id: "caller" }]);
    await tab("caller").waitForFunction(`globalThis.scenarios.providers("work").length === 2`);
    await runScenario(tab("caller"), "startDispatch", { service: "work", first: "leaving" });
    await tab("leaving").waitForFunction("globalThis.scenarios.handled() === 1");

    expect(await runScenario(tab("leaving"), "drain")).toBe("draining");
    await tab("caller").waitForFunction(`globalThis.scenarios.providers("work").join() === "staying"`);
    expect(await runScenario(tab("caller"), "dispatch", "work")).toEqual({ status: "ok", payload: "staying" });
    expect(await runScenario(tab("leaving"), "state")).toBe("draining");

    await runScenario(tab("leaving"), "release");
    expect(await runScenario(tab("caller"), "settled")).toEqual({ status: "ok", payload: "leaving" });
    expect(await runScenario(tab("leaving"), "drained")).toBe("stopped");
    await tab("caller").waitForFunction(`!globalThis.scenarios.peers().includes("leaving")`);
    await closeAll();
  });
});
