// A minimal classic-WebDriver client (W3C WebDriver over HTTP) for WebKitWebDriver, which serves one
// session at a time and no BiDi: one command at a time per session, on the session's "current" window.
import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "../../free-port.ts";
import { descendantsNamed } from "./processes.ts";

type Call = (method: string, path: string, body?: unknown) => Promise<unknown>;

/** One session: a WebKitWebDriver process and the MiniBrowser it started; its windows are pages. */
export class WebDriverSession {
  #queue: Promise<unknown> = Promise.resolve();
  #current: string | undefined;
  /** Set once the session is gone: WebKitWebDriver drops it when any of its pages' web processes dies. */
  ended = false;
  readonly endpoint: string;
  readonly id: string;
  readonly driverProcess: ChildProcess;
  /** The browser's process (MiniBrowser). */
  readonly browserPid: number | undefined;

  constructor(endpoint: string, id: string, driverProcess: ChildProcess) {
    this.endpoint = endpoint;
    this.id = id;
    this.driverProcess = driverProcess;
    [this.browserPid] = descendantsNamed(driverProcess.pid ?? -1, (name) => name === "MiniBrowser");
  }

  /** A command outside the queue (the session's own: its first window, its end). */
  readonly call: Call = async (method, path, body) => {
    const response = await fetch(`${this.endpoint}/session/${this.id}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const { value } = (await response.json()) as { value: unknown };
    if (!response.ok) {
      const { error, message } = value as { error?: string; message?: string };
      if (error === "invalid session id") this.ended = true;
      throw new Error(`WebKitWebDriver ${method} ${path}: ${error}: ${message}`);
    }
    return value;
  };

  /** Runs `command` with `window` current, once the commands queued before it are done. */
  on<T>(window: string | undefined, command: (call: Call) => Promise<T>): Promise<T> {
    const run = async () => {
      if (window !== undefined && window !== this.#current) {
        await this.call("POST", "/window", { handle: window });
        this.#current = window;
      }
      return command(this.call);
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Evaluates `source` (an expression, awaited when a promise) in `window`; `undefined` survives the trip. */
  async evaluate<T>(window: string, source: string, args: unknown[] = []): Promise<T> {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${source})).then(
        (value) => done(value === undefined ? { undefined: true } : { value }),
        (error) => done({ error: String((error && error.stack) || error) }));`;
    const result = (await this.on(window, (call) => call("POST", "/execute/async", { script, args }))) as {
      undefined?: true;
      value?: unknown;
      error?: string;
    };
    if (result.error !== undefined) throw new Error(`evaluate failed in WebKit: ${result.error}`);
    return (result.undefined ? undefined : result.value) as T;
  }

  /** Forgets `window` as current (it was closed). */
  forget(window: string): void {
    if (this.#current === window) this.#current = undefined;
  }

  /** Ends the session and its WebKitWebDriver. */
  async end(): Promise<void> {
    this.ended = true;
    await this.call("DELETE", "").catch(() => {});
    this.driverProcess.kill();
  }
}

/** Starts a WebKitWebDriver in X `display` and opens its session, a MiniBrowser. */
export async function openWebDriverSession(options: {
  webDriverPath: string;
  miniBrowser: string;
  display: string;
}): Promise<WebDriverSession> {
  const port = await freePort();
  const driverProcess = spawn(options.webDriverPath, [`--port=${port}`], {
    stdio: "ignore",
    env: { ...process.env, DISPLAY: options.display },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    for (let waited = 0; ; waited += 50) {
      const ready = await fetch(`${endpoint}/status`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) break;
      if (waited > 10_000) throw new Error("WebKitWebDriver did not start within 10 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const response = await fetch(`${endpoint}/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        capabilities: {
          alwaysMatch: {
            // Scenarios may run long (a sync of a hundred commands): the suite's own timeouts decide.
            timeouts: { script: 300_000, pageLoad: 60_000 },
            "webkitgtk:browserOptions": { binary: options.miniBrowser, args: ["--automation"] },
          },
        },
      }),
    });
    const { value } = (await response.json()) as { value: { sessionId?: string; message?: string } };
    if (!value.sessionId) throw new Error(`WebKitWebDriver opened no session: ${value.message}`);
    return new WebDriverSession(endpoint, value.sessionId, driverProcess);
  } catch (error) {
    driverProcess.kill();
    throw error;
  }
}
