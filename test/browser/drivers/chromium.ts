// Chromium behind the driver interface, through playwright-core (its pages already have the shape).
import {
  chromium,
  type BrowserContext as PlaywrightContext,
  type Page as PlaywrightPage,
  type Request as PlaywrightRequest,
} from "playwright-core";
import { CHROMIUM_ARGS } from "../../../scripts/find-browsers.ts";
import type {
  BrowserContext,
  BrowserDriver,
  BrowserPage,
  ContextOptions,
  PageFunction,
  WaitOptions,
} from "../driver.ts";

const TIMEOUT_MS = 30_000;

class ChromiumPage implements BrowserPage {
  readonly raw: PlaywrightPage;
  constructor(raw: PlaywrightPage) {
    this.raw = raw;
  }
  async goto(url: string) {
    await this.raw.goto(url);
  }
  async reload() {
    await this.raw.reload();
  }
  evaluate<TResult, TArg>(what: string | PageFunction<TArg, TResult>, arg?: TArg): Promise<TResult> {
    // Playwright's own overloads (string or function, with its own boxing of the argument) cover both.
    return this.raw.evaluate(what as (arg: unknown) => TResult, arg);
  }
  async waitForFunction<TArg>(what: string | PageFunction<TArg, unknown>, arg?: TArg, options: WaitOptions = {}) {
    await this.raw.waitForFunction(what as (arg: unknown) => unknown, arg, {
      timeout: options.timeout ?? TIMEOUT_MS,
    });
  }
  async waitForSelector(selector: string, options: WaitOptions = {}) {
    await this.raw.waitForSelector(selector, { state: "attached", timeout: options.timeout ?? TIMEOUT_MS });
  }
  click(selector: string) {
    return this.raw.click(selector);
  }
  fill(selector: string, value: string) {
    return this.raw.fill(selector, value);
  }
  check(selector: string) {
    return this.raw.check(selector);
  }
  uncheck(selector: string) {
    return this.raw.uncheck(selector);
  }
  textContent(selector: string) {
    return this.raw.textContent(selector);
  }
  waitForTimeout(ms: number) {
    return this.raw.waitForTimeout(ms);
  }
  async screenshot(options: { path: string; fullPage?: boolean }) {
    await this.raw.screenshot(options);
  }
  onRequest(listener: Parameters<BrowserPage["onRequest"]>[0]) {
    this.raw.on("request", (request: PlaywrightRequest) =>
      listener({
        url: request.url(),
        method: request.method(),
        body: Promise.resolve(request.postData() ?? undefined),
      }),
    );
  }
  close() {
    return this.raw.close();
  }
  isClosed() {
    return this.raw.isClosed();
  }
}

function wrapContext(context: PlaywrightContext, options: ContextOptions): BrowserContext {
  const pages = new Set<ChromiumPage>();
  return {
    async newPage() {
      const page = new ChromiumPage(await context.newPage());
      const quota = options.storageQuota;
      if (quota) {
        // Chromium applies an override only to an origin whose storage has not been used in this context
        // yet, and only while the session that set it stays attached.
        const cdp = await context.newCDPSession(page.raw);
        await cdp.send("Storage.overrideQuotaForOrigin", { origin: quota.origin, quotaSize: quota.bytes });
      }
      pages.add(page);
      page.raw.on("close", () => pages.delete(page));
      return page;
    },
    pages: () => [...pages],
    close: () => context.close(),
  };
}

/** Starts a headless Chromium with the flags that work on this kind of machine. */
export async function launchChromium(executablePath: string): Promise<BrowserDriver> {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS.filter((flag) => flag !== "--headless"),
  });
  return {
    engine: "chromium",
    label: "Chromium",
    async newContext(options = {}) {
      return wrapContext(await browser.newContext(), options);
    },
    async newPage() {
      const context = await browser.newContext();
      const page = new ChromiumPage(await context.newPage());
      page.raw.on("close", () => void context.close().catch(() => {}));
      return page;
    },
    async crash(page) {
      if (!(page instanceof ChromiumPage)) throw new Error("crash: not a page of this Chromium");
      const cdp = await page.raw.context().newCDPSession(page.raw);
      // Never answers: the session dies with the renderer.
      void cdp.send("Page.crash").catch(() => {});
    },
    close: () => browser.close(),
  };
}
