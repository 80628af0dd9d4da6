// The core, bundled as a browser gets it, runs in a real browser page (each engine of the suite).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrowserHarness, ENGINE_LABEL, type EngineName, runScenario, startBrowserHarness } from "./harness.ts";

let harness: BrowserHarness;
beforeAll(async () => {
  harness = await startBrowserHarness({ "core-scenarios": "test/browser/pages/core-scenarios.ts" });
});
afterAll(async () => {
  await harness?.[Symbol.asyncDispose]();
});

/** What each engine's headless user agent says about it. */
const USER_AGENTS: Record<EngineName, RegExp> = {
  chromium: /HeadlessChrome\/\d+/,
  firefox: /Gecko\/\d+ Firefox\/\d+/,
  webkit: /AppleWebKit\/[\d.]+ \(KHTML, like Gecko\)(?! Chrome)/,
};

describe(`core in ${ENGINE_LABEL}`, () => {
  it("dispatches between nodes on the in-process hub inside a page; private services stay private", async () => {
    const page = await harness.newPage();
    const result = await runScenario<{ userAgent: string; greet: unknown; secret: unknown }>(page, "dispatchOverHub");
    expect(result.userAgent).toMatch(USER_AGENTS[harness.engine]);
    expect(result.greet).toEqual({ status: "ok", payload: "Hello, Ada!" });
    // A private service is never announced: the caller has never heard of it.
    expect(result.secret).toEqual({ status: "service_unavailable", service: "secret", unknown: true });
  });

  it("a message survives the browser's structured clone and postMessage", async () => {
    const page = await harness.newPage();
    const result = await runScenario<{ original: unknown; cloned: unknown; posted: unknown }>(page, "cloneAndPost");
    expect(result.cloned).toEqual(result.original);
    expect(result.posted).toEqual(result.original);
    expect(result.original).toMatchObject({
      serviceName: "open_account",
      assigns: { user: "ada" },
      events: [{ type: "Opened" }],
    });
  });
});
