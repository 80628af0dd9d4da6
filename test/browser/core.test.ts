// The core, bundled as a browser gets it, runs in a real Chromium page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrowserHarness, runScenario, startBrowserHarness } from "./harness.ts";

let harness: BrowserHarness;
beforeAll(async () => {
  harness = await startBrowserHarness({ "core-scenarios": "test/browser/pages/core-scenarios.ts" });
});
afterAll(async () => {
  await harness?.[Symbol.asyncDispose]();
});

describe("core in Chromium", () => {
  it("dispatches between nodes on the in-process hub inside a page; private services stay private", async () => {
    const page = await harness.newPage();
    const result = await runScenario<{ userAgent: string; greet: unknown; secret: unknown }>(page, "dispatchOverHub");
    expect(result.userAgent).toContain("HeadlessChrome");
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
