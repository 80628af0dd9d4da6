// README's main job, end to end: `wrangler dev` runs the playground Worker with its Durable Objects
// locally, and a real Chromium uses the page to open an account, deposit, and read the balance.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "./harness.ts";

let wrangler: ChildProcess | undefined;
let browser: Browser | undefined;
let origin = "";
const state = mkdtempSync(join(tmpdir(), "x3m-playground-"));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  wrangler = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev did not start:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    wrangler?.stdout?.on("data", onData);
    wrangler?.stderr?.on("data", onData);
    wrangler?.on("exit", (code) => reject(new Error(`wrangler dev exited (${code}):\n${output}`)));
  });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  wrangler?.kill("SIGTERM");
  rmSync(state, { recursive: true, force: true });
});

describe("playground (npm start)", () => {
  it("opens an account, deposits now and later (through an alarm) and reads the balance through the page", async () => {
    const page = await (browser as Browser).newPage();
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
});
