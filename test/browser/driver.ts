// The driver interface: what the browser suites need of an engine, Playwright-shaped so that tests read
// the same on every engine. One implementation per engine in `drivers/`; `launchDriver` picks one.
import type { EngineName } from "../../scripts/find-browsers.ts";

/** A request a page sent, as `BrowserPage.onRequest` reports it. */
export interface SentRequest {
  readonly url: string;
  readonly method: string;
  /** The body of a POST (undefined for none); read through each engine's own way to get it. */
  readonly body: Promise<string | undefined>;
}

/** A function that runs in the page: it is sent as source text, so it may use only its argument and page globals. */
export type PageFunction<TArg, TResult> = (arg: TArg) => TResult | Promise<TResult>;

export interface WaitOptions {
  /** @default 30_000 */
  readonly timeout?: number;
}

/** One tab (a window of its own, so that every page is visible and runs unthrottled timers on every engine). */
export interface BrowserPage {
  /** Navigates and waits for the `load` event. */
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /** Evaluates an expression (awaited when it is a promise), or calls `fn(arg)` in the page. */
  evaluate<TResult = unknown>(expression: string): Promise<TResult>;
  evaluate<TResult, TArg>(fn: PageFunction<TArg, TResult>, arg: TArg): Promise<TResult>;
  evaluate<TResult>(fn: PageFunction<undefined, TResult>): Promise<TResult>;
  /** Waits until the expression, or `fn(arg)`, is truthy. Playwright's argument order: `(fn, arg, options)`. */
  waitForFunction(expression: string, arg?: undefined, options?: WaitOptions): Promise<void>;
  waitForFunction<TArg>(fn: PageFunction<TArg, unknown>, arg: TArg, options?: WaitOptions): Promise<void>;
  waitForFunction(fn: PageFunction<undefined, unknown>): Promise<void>;
  /** Waits until an element matches (attached to the document). */
  waitForSelector(selector: string, options?: WaitOptions): Promise<void>;
  click(selector: string): Promise<void>;
  /** Sets an input's value and fires `input` and `change`. */
  fill(selector: string, value: string): Promise<void>;
  /** Clicks a checkbox unless it already is checked (`check`) or unchecked (`uncheck`). */
  check(selector: string): Promise<void>;
  uncheck(selector: string): Promise<void>;
  /** The first matching element's `textContent` (waits for the element). */
  textContent(selector: string): Promise<string | null>;
  waitForTimeout(ms: number): Promise<void>;
  /** Writes a PNG to `path`, creating its folder. */
  screenshot(options: { readonly path: string; readonly fullPage?: boolean }): Promise<void>;
  /** Calls `listener` for every request the page sends from now on (not on WebKit: classic WebDriver has no network events). */
  onRequest(listener: (request: SentRequest) => void): void;
  close(): Promise<void>;
  isClosed(): boolean;
}

/** Pages that share one origin's storage (IndexedDB, BroadcastChannel, Web Locks); another context shares nothing with them. */
export interface BrowserContext {
  newPage(): Promise<BrowserPage>;
  /** The pages opened here and not closed yet. */
  pages(): BrowserPage[];
  close(): Promise<void>;
}

export interface ContextOptions {
  /** Limits the storage of `origin` to about `bytes` (the engine's own minimum may be higher: read the page's `navigator.storage.estimate()`). */
  readonly storageQuota?: { readonly origin: string; readonly bytes: number };
}

/** One running browser of one engine. */
export interface BrowserDriver {
  readonly engine: EngineName;
  /** The engine's name for people: "Chromium", "Firefox", "WebKit". */
  readonly label: string;
  newContext(options?: ContextOptions): Promise<BrowserContext>;
  /** A page in a context of its own, closed with the page. */
  newPage(): Promise<BrowserPage>;
  /**
   * Kills the page's renderer the way a crash would: no `pagehide`, no unload, its locks released by the
   * browser. The page must come from this driver. (WebKit: the whole context goes, see `engine-gaps.ts`.)
   */
  crash(page: BrowserPage): Promise<void>;
  close(): Promise<void>;
}
