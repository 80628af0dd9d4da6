import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import { build } from "esbuild";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, findChromium } from "../../scripts/find-chromium.ts";

/** A real headless Chromium and a loopback server that serves the bundled entries to its pages. */
export interface BrowserHarness extends AsyncDisposable {
  readonly origin: string;
  readonly context: BrowserContext;
  /** Opens a new tab of the harness's origin and waits until its scenario modules have registered. */
  newPage(): Promise<Page>;
}

/**
 * Runs a scenario that a page module registered on `globalThis.scenarios` (see `pages/`). Scenarios
 * live in bundled browser modules because functions passed to `page.evaluate` are rewritten by Vite.
 */
export function runScenario<TResult>(page: Page, name: string, argument: unknown = null): Promise<TResult> {
  return page.evaluate(
    `globalThis.scenarios[${JSON.stringify(name)}](${JSON.stringify(argument)})`,
  ) as Promise<TResult>;
}

/** Starts a headless Chromium with the flags that work on this kind of machine. */
export async function launchBrowser() {
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error("The browser suite needs Chromium: run `node scripts/ensure-chromium.ts` or set CHROME_PATH.");
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS.filter((flag) => flag !== "--headless"),
  });
}

export interface HarnessOptions {
  /** Forwards requests under `/edge/` to this origin (the local edge Worker), so pages call it same-origin. */
  readonly edge?: string;
}

/** Forwards one request to `origin`, without the `/edge` prefix. */
function proxy(incoming: IncomingMessage, outgoing: ServerResponse, origin: string): void {
  const target = new URL((incoming.url ?? "/").slice("/edge".length), origin);
  const forwarded = httpRequest(
    target,
    { method: incoming.method, headers: { ...incoming.headers, host: target.host } },
    (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    },
  );
  forwarded.on("error", () => outgoing.writeHead(502).end());
  incoming.pipe(forwarded);
}

/** Bundles `entries` (name → source path) for the browser with esbuild and starts Chromium. */
export async function startBrowserHarness(
  entries: Record<string, string>,
  options: HarnessOptions = {},
): Promise<BrowserHarness> {
  const bundle = await build({
    entryPoints: entries,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    outdir: "/bundle",
  });
  const files = new Map(bundle.outputFiles.map((file) => [`/${basename(file.path)}`, file.text]));
  const scripts = Object.keys(entries)
    .map((name) => `<script type="module" src="/${name}.js"></script>`)
    .join("");
  files.set("/", `<!doctype html><meta charset=utf-8><title>x3m-system browser suite</title>${scripts}`);
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (options.edge && path.startsWith("/edge/")) return void proxy(request, response, options.edge);
    const body = files.get(path);
    if (body === undefined) return void response.writeHead(404).end();
    response.writeHead(200, { "content-type": path.endsWith(".js") ? "text/javascript" : "text/html" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchBrowser();
  const context = await browser.newContext();
  return {
    origin,
    context,
    async newPage() {
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      await page.waitForFunction("globalThis.scenarios !== undefined");
      return page;
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
