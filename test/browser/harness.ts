/**
 * The browser suites' harness: bundles page modules with esbuild, serves them on loopback, and drives a
 * real headless browser of one engine through a small driver interface (`driver.ts`):
 *
 * - `BrowserDriver` (one running browser): `newContext({ storageQuota? })`, `newPage()` (in a context of
 *   its own), `crash(page)` (kills its renderer: no pagehide), `close()`; `engine` and `label` name it.
 * - `BrowserContext` (pages sharing one origin's storage, BroadcastChannel and Web Locks): `newPage()`,
 *   `pages()`, `close()`.
 * - `BrowserPage`, Playwright-shaped: `goto`, `reload`, `evaluate(expr | fn, arg)`, `waitForFunction(expr
 *   | fn, arg, { timeout })`, `waitForSelector`, `click`, `fill`, `check`/`uncheck`, `textContent`,
 *   `waitForTimeout`, `screenshot({ path, fullPage })` (creates the folder), `onRequest`, `close`, `isClosed`.
 *
 * Engines (`drivers/`): Chromium through playwright-core, Firefox (stock ESR, WebDriver BiDi) through
 * puppeteer-core, WebKit (WebKitGTK's MiniBrowser under Xvfb) through WebKitWebDriver's classic WebDriver.
 * A test file runs on the engine of its vitest project (`X3M_BROWSER`, set by `vitest.config.ts`, one
 * project per engine in `X3M_BROWSERS`); outside vitest (benchmarks) pass `{ engine }`. Tests use
 * `startBrowserHarness`, `harness.newPage()` and `runScenario(page, name, arg)`, name the engine with
 * `harness.label` / `ENGINE_LABEL`, and wrap a case that needs what an engine lacks (crashing one page,
 * a storage quota) in `itNeeds` (`engine-gaps.ts`): skipped there, saying why.
 */
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
import { ENGINE_INSTALLS, type EngineName, selectedEngines } from "../../scripts/find-browsers.ts";
import type { BrowserContext, BrowserDriver, BrowserPage, ContextOptions } from "./driver.ts";
import { launchDriver } from "./drivers/index.ts";

export type { EngineName } from "../../scripts/find-browsers.ts";
export type { BrowserContext, BrowserDriver, BrowserPage, ContextOptions } from "./driver.ts";
/** A page of any engine (the name the suites used when pages were Playwright's). */
export type Page = BrowserPage;

/** The engine this process drives: its vitest project's `X3M_BROWSER`, else the first selected engine. */
export function currentEngine(): EngineName {
  const fromProject = process.env.X3M_BROWSER;
  if (fromProject) {
    const [engine] = selectedEngines(fromProject);
    if (engine) return engine;
  }
  return selectedEngines()[0] ?? "chromium";
}

/** The current engine's name for test titles: "Chromium", "Firefox", "WebKit". */
export const ENGINE_LABEL = ENGINE_INSTALLS[currentEngine()].label;

/** A real headless browser and a loopback server that serves the bundled entries to its pages. */
export interface BrowserHarness extends AsyncDisposable {
  readonly origin: string;
  readonly engine: EngineName;
  /** "Chromium", "Firefox", "WebKit". */
  readonly label: string;
  readonly driver: BrowserDriver;
  /** The context `newPage()` opens pages in. */
  readonly context: BrowserContext;
  /** Opens a tab of the harness's origin (in `context`) and waits until its scenario modules have registered. */
  newPage(context?: BrowserContext): Promise<BrowserPage>;
  /** Another context (storage of its own), e.g. with a storage quota; closed with the harness. */
  newContext(options?: ContextOptions): Promise<BrowserContext>;
  /** Kills the page's renderer as a crash would (see `BrowserDriver.crash`). */
  crash(page: BrowserPage): Promise<void>;
}

/**
 * Runs a scenario that a page module registered on `globalThis.scenarios` (see `pages/`). Scenarios
 * live in bundled browser modules because functions passed to `page.evaluate` are rewritten by Vite.
 */
export function runScenario<TResult>(page: BrowserPage, name: string, argument: unknown = null): Promise<TResult> {
  return page.evaluate<TResult>(`globalThis.scenarios[${JSON.stringify(name)}](${JSON.stringify(argument)})`);
}

/** Starts a headless browser of `engine` (default: the current one) behind the driver interface. */
export function launchBrowser(engine: EngineName = currentEngine()): Promise<BrowserDriver> {
  return launchDriver(engine);
}

export interface HarnessOptions {
  /** Forwards requests under `/edge/` to this origin (the local edge Worker), so pages call it same-origin. */
  readonly edge?: string;
  /** @default currentEngine() */
  readonly engine?: EngineName;
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

/** Bundles `entries` (name → source path) for the browser with esbuild and starts the browser. */
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
  const driver = await launchDriver(options.engine ?? currentEngine());
  const context = await driver.newContext();
  return {
    origin,
    engine: driver.engine,
    label: driver.label,
    driver,
    context,
    async newPage(pageContext = context) {
      const page = await pageContext.newPage();
      await page.goto(`${origin}/`);
      await page.waitForFunction("globalThis.scenarios !== undefined");
      return page;
    },
    newContext: (contextOptions) => driver.newContext(contextOptions),
    crash: (page) => driver.crash(page),
    async [Symbol.asyncDispose]() {
      await driver.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
