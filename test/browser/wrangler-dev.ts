// Starts the playground Worker (root wrangler.toml) with `wrangler dev` on a free loopback port, with
// its Durable Objects persisted in a temporary folder: the local edge the browser suites talk to.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LocalEdge extends AsyncDisposable {
  readonly origin: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startLocalEdge(): Promise<LocalEdge> {
  const state = mkdtempSync(join(tmpdir(), "x3m-edge-"));
  const port = await freePort();
  const wrangler: ChildProcess = spawn(
    "wrangler",
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state],
    { env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" }, stdio: ["ignore", "pipe", "pipe"] },
  );
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
    wrangler.stdout?.on("data", onData);
    wrangler.stderr?.on("data", onData);
    wrangler.on("exit", (code) => reject(new Error(`wrangler dev exited (${code}):\n${output}`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      const exited = new Promise<void>((resolve) => wrangler.once("exit", () => resolve()));
      wrangler.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      rmSync(state, { recursive: true, force: true });
    },
  };
}
