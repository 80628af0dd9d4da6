// docs/getting-started.md, followed as a newcomer would, in each engine of the suite: its files are written
// into an empty folder outside the repository, next to this checkout's package (built and packed as the guide
// says), type-checked with the guide's `npm run check`, and run under `wrangler dev` with the guide's
// wrangler.toml; then the three apps are used as the guide describes (two tabs, the curl requests, the
// offline page). The guide's `npm install` lines are the one step not run literally (they need the registry):
// the folder gets the packed tarball unpacked, and links to this checkout's copies of the other packages.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../wrangler-dev.ts";
import { type BrowserDriver, launchBrowser } from "./harness.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "node_modules/.bin");
const guide = readFileSync(join(ROOT, "docs/getting-started.md"), "utf8");

/** Every fenced block that follows a `<!-- marker -->` line: marker text → the block's content. */
function markedBlocks(prefix: string): Array<{ name: string; body: string }> {
  const found: Array<{ name: string; body: string }> = [];
  const pattern = /<!-- ([^>]*?) -->\n```[a-z]*\n([\s\S]*?)```/g;
  for (const [, marker = "", body = ""] of guide.matchAll(pattern)) {
    if (marker.startsWith(prefix)) found.push({ name: marker.slice(prefix.length).trim(), body });
  }
  return found;
}

/** One curl of the guide: what it sends, and the status and answer its comment line promises. */
interface GuideRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly status: number;
  readonly promised: string;
}

function guideRequests(): GuideRequest[] {
  const [block] = markedBlocks("requests:");
  if (!block) throw new Error("the guide has no <!-- requests: --> block");
  const requests: GuideRequest[] = [];
  const lines = block.body.replace(/\\\n\s*/g, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (!line.startsWith("curl ")) continue;
    const promise = /^# (\d{3}) (.*)$/.exec(lines[i + 1] ?? "");
    if (!promise) throw new Error(`no "# <status> <answer>" line after: ${line}`);
    const headers: Record<string, string> = {};
    for (const [, header = ""] of line.matchAll(/-H '([^']*)'/g)) {
      const [name = "", ...value] = header.split(":");
      headers[name.trim()] = value.join(":").trim();
    }
    requests.push({
      path: /localhost:8787(\/\S*)/.exec(line)?.[1] ?? "",
      headers,
      body: /-d '([^']*)'/.exec(line)?.[1] ?? "",
      status: Number(promise[1]),
      promised: promise[2] ?? "",
    });
  }
  return requests;
}

/** The JSON object that follows `"key":` in the guide's comment (balanced braces), parsed. */
function promisedObject(text: string, key: string): unknown {
  const start = text.indexOf(`"${key}":{`);
  if (start < 0) return undefined;
  let depth = 0;
  const from = start + key.length + 3;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "{") depth++;
    if (text[i] === "}" && --depth === 0) return JSON.parse(text.slice(from, i + 1));
  }
  throw new Error(`unbalanced JSON after "${key}" in: ${text}`);
}

/** Builds and packs this checkout as `npm run build && npm pack` does, unpacked where `npm install` puts it. */
function installPackedPackage(work: string, app: string): void {
  const pkg = join(work, "package");
  mkdirSync(pkg, { recursive: true });
  for (const config of ["tsconfig.build.json", "tsconfig.build.workers.json", "tsconfig.build.browser.json"]) {
    execFileSync(join(BIN, "tsc"), ["-p", config, "--outDir", join(pkg, "dist")], { cwd: ROOT, stdio: "pipe" });
  }
  cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
  cpSync(join(ROOT, "README.md"), join(pkg, "README.md"));
  cpSync(join(ROOT, "docs"), join(pkg, "docs"), { recursive: true, filter: (path) => !path.includes(".api") });
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: pkg, encoding: "utf8" });
  const target = join(app, "node_modules/x3m-system");
  mkdirSync(target, { recursive: true });
  execFileSync("tar", ["-xzf", join(work, packed.trim()), "-C", target, "--strip-components=1"]);
}

/** Links the packages the guide installs (and the package's own dependencies) to this checkout's copies. */
function linkTools(app: string): void {
  for (const name of ["zod", "idb", "wrangler", "esbuild", "typescript", "@cloudflare/workers-types"]) {
    const link = join(app, "node_modules", name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", name), link);
  }
  const bin = join(app, "node_modules/.bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync("../esbuild/bin/esbuild", join(bin, "esbuild"));
  symlinkSync("../typescript/bin/tsc", join(bin, "tsc"));
  symlinkSync("../wrangler/bin/wrangler.js", join(bin, "wrangler"));
}

/** The guide's set-up lines that need no registry (`npm init`, `npm pkg set`, `mkdir`), run as written. */
function runSetUpCommands(app: string): void {
  const [setup] = markedBlocks("setup");
  if (!setup) throw new Error("the guide has no <!-- setup --> block");
  const commands = setup.body
    .split("\n")
    .map((line) => line.replace(/\s#.*$/, ""))
    // `npm pkg set` quotes an `&&` of its own; the other lines chain commands with `&&`.
    .flatMap((line) => (line.startsWith("npm pkg set") ? [line] : line.split("&&")))
    .map((command) => command.trim())
    .filter((command) => /^(npm init|npm pkg set|mkdir src)/.test(command));
  expect(commands.length).toBe(3);
  for (const command of commands) execFileSync("sh", ["-c", command], { cwd: app, stdio: "pipe" });
}

let work = "";
let app = "";
let edge: WranglerDev | undefined;
let browser: BrowserDriver | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "x3m-getting-started-"));
  app = join(work, "my-app");
  mkdirSync(app);
  runSetUpCommands(app);
  installPackedPackage(work, app);
  linkTools(app);
  for (const { name, body } of markedBlocks("file:")) {
    mkdirSync(dirname(join(app, name)), { recursive: true });
    writeFileSync(join(app, name), body);
  }
  edge = await startWranglerDev({ cwd: app, config: join(app, "wrangler.toml") });
  browser = await launchBrowser();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await edge?.[Symbol.asyncDispose]();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("docs/getting-started.md, from an empty folder", () => {
  it("has the files the guide names, and `npm run check` type-checks the page and the Worker", () => {
    const files = markedBlocks("file:").map((block) => block.name);
    expect(files.sort()).toEqual(
      [
        "public/offline.html",
        "public/tabs.html",
        "src/account.ts",
        "src/offline.ts",
        "src/tabs.ts",
        "src/worker.ts",
        "tsconfig.json",
        "tsconfig.worker.json",
        "wrangler.toml",
      ].sort(),
    );
    const manifest = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    expect(manifest.type).toBe("module");
    execFileSync("npm", ["run", "check", "--silent"], { cwd: app, stdio: "pipe" });
  }, 120_000);

  it("app 1: a message published in one tab reaches both tabs", async () => {
    const context = await (browser as BrowserDriver).newContext();
    const [a, b] = [await context.newPage(), await context.newPage()];
    for (const page of [a, b]) await page.goto(`${edge?.origin}/tabs.html`);
    for (const page of [a, b]) {
      await page.waitForFunction(() => document.getElementById("peers")?.textContent === "1 other tab(s) open");
    }
    await a.fill("#text", "hello from a");
    await a.click("#say button");
    await a.waitForFunction(() => document.getElementById("status")?.textContent === "delivered to 2 tab(s)");
    const me = await a.textContent("#me");
    for (const page of [a, b]) {
      await page.waitForFunction(
        (line) => document.getElementById("messages")?.textContent?.includes(line),
        `${me}: hello from a`,
      );
    }
    await context.close();
  });

  it("app 2: every curl of the guide answers the status and response it promises", async () => {
    const requests = guideRequests();
    expect(requests.length).toBe(6);
    for (const request of requests) {
      const answer = await fetch(`${edge?.origin}${request.path}`, {
        method: "POST",
        headers: request.headers,
        body: request.body,
      });
      const body = (await answer.json()) as { response?: unknown; error?: { code: string } };
      expect({ status: answer.status, request: request.body }).toEqual({
        status: request.status,
        request: request.body,
      });
      const response = promisedObject(request.promised, "response");
      if (response !== undefined) expect(body.response).toEqual(response);
      const code = /"code":"([A-Z_]+)"/.exec(request.promised)?.[1];
      if (code !== undefined) expect(body.error?.code).toBe(code);
      expect(response !== undefined || code !== undefined).toBe(true);
    }
  });

  it("app 3: the offline page answers at once, queues while offline, and syncs exactly once", async () => {
    const page = await (browser as BrowserDriver).newPage();
    await page.goto(`${edge?.origin}/offline.html`);
    // The page's buttons work once its module has run to its last line (it renders the state there).
    await page.waitForFunction(() => (document.getElementById("state")?.textContent ?? "") !== "");
    /** Waits for the pending count; on a timeout, says what the page shows instead. */
    const pending = async (count: number) => {
      try {
        await page.waitForSelector(`#status[data-pending='${count}']`);
      } catch (error) {
        const shown = await page.evaluate<string>(
          `["status", "answer", "state"].map((id) => "#" + id + ": " + document.getElementById(id)?.textContent).join("; ")`,
        );
        throw new Error(`${(error as Error).message} (the page shows ${shown})`);
      }
    };
    const settled = async (answer: string) => {
      await page.waitForFunction((text) => document.getElementById("answer")?.textContent?.includes(text), answer);
      await pending(0);
    };
    await page.click("#open");
    await settled('"status":"created"');
    await page.click("#deposit");
    await settled('"status":"ok"');
    await page.check("#offline");
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("offline"));
    await page.click("#deposit");
    await pending(1);
    await page.click("#deposit");
    await pending(2);
    expect(await page.textContent("#state")).toContain('"balance": 30');
    await page.uncheck("#offline");
    await pending(0);
    const read = await fetch(`${edge?.origin}/x3m/dispatch`, {
      method: "POST",
      headers: { authorization: "Bearer demo-token", "content-type": "application/json" },
      body: JSON.stringify({ serviceName: "get_account", id: "read-acc-2", rawRequest: { id: "acc-2" } }),
    });
    expect(((await read.json()) as { response: unknown }).response).toEqual({
      status: "ok",
      payload: { state: { balance: 30, owner: "Ada" }, version: 3 },
    });
    await page.close();
  });
});
