// Starts a Worker under `wrangler dev` (local workerd, no Cloudflare account): the browser suites use the
// playground Worker as their edge, the Durable Objects benchmark its own Worker.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const START_TIMEOUT_MS = 90_000;

/** A running `wrangler dev`; `stop()` (or `await using`) ends it and its workerd, and removes its state. */
export interface WranglerDev extends AsyncDisposable {
  readonly origin: string;
  readonly port: number;
  /** Its process group (wrangler and the workerd it runs): what memory figures add up. */
  readonly pid: number;
  /** Where its Durable Objects are persisted. */
  readonly state: string;
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL to the whole group, as a crash would), keeping its state for a restart. */
  kill(): Promise<void>;
}

export interface WranglerDevOptions {
  /** The wrangler config. @default the root wrangler.toml (the playground Worker) */
  readonly config?: string;
  /** @default a free loopback port */
  readonly port?: number;
  /** Where wrangler runs (its `[build]` command too). @default the repository's root */
  readonly cwd?: string;
  /** Persist to this directory (kept by `stop()`; a restart after `kill()` passes it). @default a new temporary one */
  readonly persistTo?: string;
}

/**
 * Starts `wrangler dev` on a free loopback port, with its Durable Objects persisted in a temporary
 * directory and no metrics: the local edge the browser suites and the benchmarks talk to.
 */
export async function startWranglerDev(options: WranglerDevOptions = {}): Promise<WranglerDev> {
  // A free port can be taken by another process (another test run on the machine) before wrangler binds
  // it: then try another one. A port the caller chose is not replaced.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      const taken = /address already in use|EADDRINUSE/i.test((error as Error).message);
      if (!taken || options.port !== undefined || attempt >= 5) throw error;
    }
  }
}

async function startOnce(options: WranglerDevOptions): Promise<WranglerDev> {
  const config = options.config ?? join(ROOT, "wrangler.toml");
  const port = options.port ?? (await freePort());
  const state = options.persistTo ?? mkdtempSync(join(tmpdir(), "x3m-wrangler-"));
  // Its own process group, so that stopping it also stops the workerd it runs.
  const child: ChildProcess = spawn(
    WRANGLER,
    ["dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state],
    {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    const signal = (name: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, name);
      } catch {
        // already gone
      }
    };
    if (child.exitCode === null && child.signalCode === null) {
      signal("SIGTERM");
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5_000).unref());
      if ((await Promise.race([exited, timeout])) === "timeout") {
        signal("SIGKILL");
        await exited;
      }
    }
    if (options.persistTo === undefined) rmSync(state, { recursive: true, force: true });
  };
  const kill = async () => {
    try {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
        process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  };
  let output = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`wrangler dev did not start in ${START_TIMEOUT_MS / 1000} s:\n${output}`)),
        START_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready on")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`wrangler dev exited (${code}):\n${output}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  // Keep draining its output (a full pipe would block it); it is only shown if a call fails.
  child.stdout?.on("data", () => {});
  child.stderr?.on("data", () => {});
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid as number,
    state,
    stop,
    kill,
    [Symbol.asyncDispose]: stop,
  };
}
