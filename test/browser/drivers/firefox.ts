// Firefox behind the driver interface: stock Firefox ESR over WebDriver BiDi through puppeteer-core
// (Playwright drives only its own patched Firefox build). Adapts puppeteer's page to Playwright's shape.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import puppeteer, {
  type Browser as PuppeteerBrowser,
  type BrowserContext as PuppeteerContext,
  type Page as PuppeteerPage,
} from "puppeteer-core";
import type {
  BrowserContext,
  BrowserDriver,
  BrowserPage,
  ContextOptions,
  PageFunction,
  WaitOptions,
} from "../driver.ts";
import { webContentProcesses } from "./processes.ts";

const TIMEOUT_MS = 30_000;
const POLL_MS = 20;

const PREFERENCES = {
  // A content process per page (up to 64), none started ahead of time: a new page's process is the one
  // that appears when it opens, and killing it crashes that page alone (see `crash`).
  "dom.ipc.processCount": 64,
  "dom.ipc.processPrelaunch.enabled": false,
};

/**
 * Tells which content process renders which page: page creation and navigation run one at a time, so a
 * process that appears meanwhile belongs to that page.
 */
class ProcessTracker {
  #queue: Promise<unknown> = Promise.resolve();
  /** The pages of this browser that are open. */
  readonly pages = new Set<FirefoxPage>();
  readonly #browserPid: number | undefined;
  constructor(browserPid: number | undefined) {
    this.#browserPid = browserPid;
  }

  /** Runs `action`; answers it and the one content process that appeared while it ran (if exactly one did). */
  track<T>(action: () => Promise<T>): Promise<{ value: T; started: number | undefined }> {
    const run = async () => {
      if (this.#browserPid === undefined) return { value: await action(), started: undefined };
      const before = webContentProcesses(this.#browserPid);
      const value = await action();
      const started = [...webContentProcesses(this.#browserPid)].filter((pid) => !before.has(pid));
      return { value, started: started.length === 1 ? started[0] : undefined };
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** The process to kill to crash `page` alone; throws when that cannot be told. */
  processOf(page: FirefoxPage): number {
    const { pid } = page;
    if (pid === undefined || this.#browserPid === undefined || !webContentProcesses(this.#browserPid).has(pid)) {
      throw new Error("crash: could not tell which Firefox content process renders this page");
    }
    const sharing = [...this.pages].filter((other) => other !== page && other.pid === pid && !other.isClosed());
    if (sharing.length > 0)
      throw new Error(`crash: content process ${pid} also renders ${sharing.length} other page(s)`);
    return pid;
  }
}

class FirefoxPage implements BrowserPage {
  /** The content process that renders this page, when it could be told. */
  pid: number | undefined;
  readonly raw: PuppeteerPage;
  readonly #tracker: ProcessTracker;
  constructor(raw: PuppeteerPage, tracker: ProcessTracker) {
    this.raw = raw;
    this.#tracker = tracker;
  }

  async goto(url: string) {
    const { started } = await this.#tracker.track(() => this.raw.goto(url));
    if (started !== undefined) this.pid = started;
  }
  async reload() {
    await this.raw.reload();
  }
  evaluate<TResult, TArg>(what: string | PageFunction<TArg, TResult>, arg?: TArg): Promise<TResult> {
    if (typeof what === "string") return this.raw.evaluate(what) as Promise<TResult>;
    return this.raw.evaluate(what as (arg: unknown) => TResult, arg) as Promise<TResult>;
  }
  async waitForFunction<TArg>(what: string | PageFunction<TArg, unknown>, arg?: TArg, options: WaitOptions = {}) {
    // Puppeteer's order is (fn, options, ...args); Playwright's (fn, arg, options).
    const wait = { timeout: options.timeout ?? TIMEOUT_MS, polling: POLL_MS };
    if (typeof what === "string") await this.raw.waitForFunction(what, wait);
    else await this.raw.waitForFunction(what as (arg: unknown) => unknown, wait, arg);
  }
  async waitForSelector(selector: string, options: WaitOptions = {}) {
    await this.raw.waitForSelector(selector, { timeout: options.timeout ?? TIMEOUT_MS });
  }
  async click(selector: string) {
    await this.waitForSelector(selector);
    await this.raw.click(selector);
  }
  async fill(selector: string, value: string) {
    await this.waitForSelector(selector);
    await this.raw.evaluate(
      `(() => { const input = document.querySelector(${JSON.stringify(selector)}); input.value = ${JSON.stringify(value)};
        input.dispatchEvent(new Event("input", { bubbles: true })); input.dispatchEvent(new Event("change", { bubbles: true })); })()`,
    );
  }
  async check(selector: string) {
    await this.#setChecked(selector, true);
  }
  async uncheck(selector: string) {
    await this.#setChecked(selector, false);
  }
  async #setChecked(selector: string, checked: boolean) {
    await this.waitForSelector(selector);
    const current = await this.raw.evaluate(`document.querySelector(${JSON.stringify(selector)}).checked`);
    if (current !== checked) await this.raw.click(selector);
  }
  async textContent(selector: string) {
    await this.waitForSelector(selector);
    return (await this.raw.evaluate(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`)) as
      | string
      | null;
  }
  waitForTimeout(ms: number) {
    return new Promise<void>((resolve) => setTimeout(resolve, ms));
  }
  async screenshot(options: { path: string; fullPage?: boolean }) {
    await mkdir(dirname(options.path), { recursive: true });
    await this.raw.screenshot({ path: options.path as `${string}.png`, fullPage: options.fullPage ?? false });
  }
  onRequest(listener: Parameters<BrowserPage["onRequest"]>[0]) {
    // Over BiDi, `postData()` throws; `fetchPostData()` asks the browser for the body.
    this.raw.on("request", (request) =>
      listener({ url: request.url(), method: request.method(), body: request.fetchPostData().catch(() => undefined) }),
    );
  }
  close() {
    return this.raw.close();
  }
  isClosed() {
    return this.raw.isClosed();
  }
}

function wrapContext(context: PuppeteerContext, tracker: ProcessTracker, onClose: () => Promise<void>): BrowserContext {
  const pages = new Set<FirefoxPage>();
  return {
    async newPage() {
      // A window, not a tab: Firefox hides background tabs and throttles their timers to one a second.
      const { value, started } = await tracker.track(() => context.newPage({ type: "window" }));
      const page = new FirefoxPage(value, tracker);
      page.pid = started;
      pages.add(page);
      tracker.pages.add(page);
      value.once("close", () => {
        pages.delete(page);
        tracker.pages.delete(page);
      });
      return page;
    },
    pages: () => [...pages],
    close: onClose,
  };
}

async function launch(executablePath: string, preferences: Record<string, unknown>): Promise<PuppeteerBrowser> {
  return puppeteer.launch({
    browser: "firefox",
    executablePath,
    headless: true,
    extraPrefsFirefox: { ...PREFERENCES, ...preferences },
    // A killed content process is a crash we caused: no crash reporter.
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: "1" },
  });
}

/** Starts a headless Firefox (stock ESR) driven over WebDriver BiDi. */
export async function launchFirefox(executablePath: string): Promise<BrowserDriver> {
  const browser = await launch(executablePath, {});
  const tracker = new ProcessTracker(browser.process()?.pid);
  const extraBrowsers = new Set<PuppeteerBrowser>();

  const newContext = async (options: ContextOptions = {}): Promise<BrowserContext> => {
    if (!options.storageQuota) {
      const context = await browser.createBrowserContext();
      return wrapContext(context, tracker, () => context.close());
    }
    // Firefox's quota is a preference of the whole profile (the temporary storage limit, in KiB; an origin
    // group gets all of it when it is this small): a browser of its own.
    const limitKiB = Math.ceil(options.storageQuota.bytes / 1024);
    const limited = await launch(executablePath, { "dom.quotaManager.temporaryStorage.fixedLimit": limitKiB });
    extraBrowsers.add(limited);
    const context = await limited.createBrowserContext();
    return wrapContext(context, new ProcessTracker(limited.process()?.pid), async () => {
      extraBrowsers.delete(limited);
      await limited.close();
    });
  };

  return {
    engine: "firefox",
    label: "Firefox",
    newContext,
    async newPage() {
      const context = await newContext();
      const page = await context.newPage();
      (page as FirefoxPage).raw.once("close", () => void context.close().catch(() => {}));
      return page;
    },
    async crash(page) {
      if (!(page instanceof FirefoxPage) || !tracker.pages.has(page))
        throw new Error("crash: not a page of this Firefox");
      process.kill(tracker.processOf(page), "SIGKILL");
    },
    async close() {
      await Promise.all([...extraBrowsers].map((extra) => extra.close()));
      await browser.close();
    },
  };
}
