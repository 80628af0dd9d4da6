// WebKit behind the driver interface: Debian's WebKitGTK MiniBrowser through its classic WebDriver
// (WebKitWebDriver: no BiDi, one session per driver process), in a virtual X display (WebKitGTK has no
// headless mode). Each context is a session (a MiniBrowser of its own), each page one of its windows.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type {
  BrowserContext,
  BrowserDriver,
  BrowserPage,
  ContextOptions,
  PageFunction,
  WaitOptions,
} from "../driver.ts";
import { openWebDriverSession, type WebDriverSession } from "./webdriver-session.ts";

const TIMEOUT_MS = 30_000;
const POLL_MS = 20;

/** The MiniBrowser WebKitGTK ships (Debian: libwebkit2gtk-4.1-0), or undefined. */
function findMiniBrowser(): string | undefined {
  return readdirSync("/usr/lib")
    .map((arch) => `/usr/lib/${arch}/webkit2gtk-4.1/MiniBrowser`)
    .find((path) => existsSync(path));
}

/** Starts Xvfb on a display it picks itself (`-displayfd`), and answers that display. */
async function startXvfb(): Promise<{ display: string; process: ChildProcess }> {
  const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], {
    stdio: ["ignore", "ignore", "ignore", "pipe"],
  });
  const display = await new Promise<string>((resolve, reject) => {
    let text = "";
    xvfb.stdio[3]?.on("data", (chunk) => {
      text += String(chunk);
      if (text.includes("\n")) resolve(`:${text.trim()}`);
    });
    xvfb.once("exit", (code) => reject(new Error(`Xvfb exited (${code}) before it told its display`)));
    xvfb.once("error", reject);
  });
  return { display, process: xvfb };
}

/** The pages of one session, and the window a page may take (a session starts with one). */
interface SessionPages {
  readonly session: WebDriverSession;
  readonly pages: Set<WebKitPage>;
  spare: string | undefined;
}

class WebKitPage implements BrowserPage {
  #closed = false;
  readonly owner: SessionPages;
  readonly window: string;
  /** Runs once the page is closed (a driver-level page closes its own context). */
  onClose: (() => void) | undefined;
  constructor(owner: SessionPages, window: string) {
    this.owner = owner;
    this.window = window;
  }

  get #session() {
    return this.owner.session;
  }
  async goto(url: string) {
    await this.#session.on(this.window, (call) => call("POST", "/url", { url }));
  }
  async reload() {
    await this.#session.on(this.window, (call) => call("POST", "/refresh", {}));
  }
  evaluate<TResult, TArg>(what: string | PageFunction<TArg, TResult>, arg?: TArg): Promise<TResult> {
    if (typeof what === "string") return this.#session.evaluate(this.window, what);
    return this.#session.evaluate(this.window, `(${what.toString()})(arguments[0])`, [arg ?? null]);
  }
  async waitForFunction<TArg>(what: string | PageFunction<TArg, unknown>, arg?: TArg, options: WaitOptions = {}) {
    const deadline = Date.now() + (options.timeout ?? TIMEOUT_MS);
    while (!(await this.evaluate(what as PageFunction<TArg, unknown>, arg))) {
      if (Date.now() > deadline) throw new Error(`waitForFunction timed out: ${String(what)}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
  waitForSelector(selector: string, options: WaitOptions = {}) {
    return this.waitForFunction(`document.querySelector(${JSON.stringify(selector)}) !== null`, undefined, options);
  }
  async click(selector: string) {
    await this.waitForSelector(selector);
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
  }
  async fill(selector: string, value: string) {
    await this.waitForSelector(selector);
    await this.evaluate(
      `(() => { const input = document.querySelector(${JSON.stringify(selector)}); input.value = ${JSON.stringify(value)};
        input.dispatchEvent(new Event("input", { bubbles: true })); input.dispatchEvent(new Event("change", { bubbles: true })); })()`,
    );
  }
  check(selector: string) {
    return this.#setChecked(selector, true);
  }
  uncheck(selector: string) {
    return this.#setChecked(selector, false);
  }
  async #setChecked(selector: string, checked: boolean) {
    await this.waitForSelector(selector);
    if ((await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).checked`)) !== checked) {
      await this.click(selector);
    }
  }
  async textContent(selector: string) {
    await this.waitForSelector(selector);
    return this.evaluate<string | null, undefined>(
      `document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`,
    );
  }
  waitForTimeout(ms: number) {
    return new Promise<void>((resolve) => setTimeout(resolve, ms));
  }
  async screenshot(options: { path: string; fullPage?: boolean }) {
    // Classic WebDriver takes the viewport only.
    const png = (await this.#session.on(this.window, (call) => call("GET", "/screenshot"))) as string;
    await mkdir(dirname(options.path), { recursive: true });
    await writeFile(options.path, Buffer.from(png, "base64"));
  }
  onRequest(): void {
    throw new Error("onRequest: classic WebDriver (WebKitWebDriver) reports no network requests");
  }
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.owner.pages.delete(this);
    this.onClose?.();
    // Closing a session's last window would end the session: a blank one is opened first, for the next
    // page. (Navigating the page away instead is no close: WebKit may keep it in its back/forward cache.)
    if (this.owner.pages.size === 0 && this.owner.spare === undefined) {
      // From this window: WebDriver runs "new window" in the current one, which must still be open.
      const blank = await this.#session
        .on(this.window, (call) => call("POST", "/window/new", { type: "window" }))
        .catch(() => undefined);
      this.owner.spare = (blank as { handle: string } | undefined)?.handle;
    }
    await this.#session.on(this.window, (call) => call("DELETE", "/window")).catch(() => {});
    this.#session.forget(this.window);
  }
  isClosed() {
    return this.#closed;
  }
}

/** Starts Xvfb; each context is a WebKitWebDriver session (a MiniBrowser) in its display. */
export async function launchWebKit(webDriverPath: string): Promise<BrowserDriver> {
  const miniBrowser = findMiniBrowser();
  if (!miniBrowser)
    throw new Error("WebKit: no MiniBrowser (Debian's libwebkit2gtk-4.1-0, a webkit2gtk-driver dependency)");
  const xvfb = await startXvfb();
  const open = new Set<SessionPages>();
  const openSession = async (): Promise<SessionPages> => {
    const session = await openWebDriverSession({ webDriverPath, miniBrowser, display: xvfb.display });
    const owner: SessionPages = { session, pages: new Set(), spare: (await session.call("GET", "/window")) as string };
    open.add(owner);
    return owner;
  };
  const endSession = async (owner: SessionPages) => {
    open.delete(owner);
    await owner.session.end();
  };

  const newContext = async (options: ContextOptions = {}): Promise<BrowserContext> => {
    if (options.storageQuota) throw new Error("WebKit: WebKitWebDriver cannot limit an origin's storage");
    let owner = await openSession();
    return {
      async newPage() {
        // A crash ended the session with all of its pages: later pages get a new one (fresh storage).
        if (owner.session.ended) {
          void endSession(owner);
          owner = await openSession();
        }
        const current = owner;
        // "New window" runs in the current window, which must be open: one of the pages'.
        const from = [...current.pages][0]?.window;
        const window =
          current.spare ??
          (
            (await current.session.on(from, (call) => call("POST", "/window/new", { type: "window" }))) as {
              handle: string;
            }
          ).handle;
        current.spare = undefined;
        const page = new WebKitPage(current, window);
        current.pages.add(page);
        return page;
      },
      pages: () => [...owner.pages],
      close: () => endSession(owner),
    };
  };

  return {
    engine: "webkit",
    label: "WebKit",
    newContext,
    async newPage() {
      const context = await newContext();
      const page = await context.newPage();
      (page as WebKitPage).onClose = () => void context.close();
      return page;
    },
    async crash(page) {
      if (!(page instanceof WebKitPage)) throw new Error("crash: not a page of this WebKit");
      // WebKitWebDriver ends the whole session when any of its pages' web processes dies, so the crash
      // of one page takes the context's other pages too: its MiniBrowser is what is killed.
      const pid = page.owner.session.browserPid;
      if (pid === undefined) throw new Error("crash: this page's MiniBrowser process is unknown");
      process.kill(pid, "SIGKILL");
      page.owner.session.ended = true;
      page.owner.pages.delete(page);
    },
    async close() {
      await Promise.all([...open].map(endSession));
      xvfb.process.kill();
    },
  };
}
