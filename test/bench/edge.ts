/**
 * The edge at scale (part of `npm run bench`), against its own Worker under `wrangler dev`
 * (test/bench/edge/worker.ts): HTTP commands per second from 64 concurrent clients into one account and
 * spread over 1,000 accounts, next to a Worker answering a constant and an object doing one INSERT per
 * request; the delay from a command's answer to the poke of a client tracking it, next to a raw
 * WebSocket round trip; and the memory of 1,000 idle connections before and after the edge hibernates.
 * Every baseline is measured in the same run. Not a test.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Message } from "../../src/index.ts";
import { startWranglerDev } from "../wrangler-dev.ts";
import { fmt, markdown, median } from "./measure.ts";

const CLIENTS = 64;
const SECONDS = 3;
const ROUNDS = 3;
const AUTH = { authorization: "Bearer bench", "content-type": "application/json" };

/** Requests per second that `CLIENTS` loops of `call` complete in `SECONDS`. */
async function load(call: (client: number, n: number) => Promise<Response>): Promise<number> {
  const until = performance.now() + SECONDS * 1_000;
  let done = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let n = 0; performance.now() < until; n++) {
        const response = await call(client, n);
        await response.arrayBuffer();
        if (response.ok) done++;
        else failed++;
      }
    }),
  );
  if (failed > 0) throw new Error(`edge bench: ${failed} requests failed`);
  return done / SECONDS;
}

/** The resident memory, in MiB, of the workerd processes of a process group (the runtime, not wrangler's Node). */
function residentMiB(group: number): number {
  const out = execFileSync("ps", ["-o", "rss=,comm=", "-g", String(group)], { encoding: "utf8" });
  return (
    out
      .split("\n")
      .filter((line) => line.includes("workerd"))
      .reduce((sum, line) => sum + (Number(line.trim().split(/\s+/)[0]) || 0), 0) / 1024
  );
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))] ?? Number.NaN;

export async function edgeBench(): Promise<void> {
  await using edge = await startWranglerDev({
    config: fileURLToPath(new URL("./edge/wrangler.toml", import.meta.url)),
  });
  const url = (path: string) => `${edge.origin}${path}`;
  const dispatch = (service: string, rawRequest: Record<string, unknown>) =>
    fetch(url("/x3m/dispatch"), {
      method: "POST",
      headers: AUTH,
      body: JSON.stringify(Message.new(service, { rawRequest }).toJSON()),
    });
  const accounts = Array.from({ length: 1_000 }, (_, i) => `bench-${i}-${crypto.randomUUID().slice(0, 8)}`);
  for (let i = 0; i < accounts.length; i += CLIENTS) {
    await Promise.all(accounts.slice(i, i + CLIENTS).map((id) => dispatch("open_account", { id, owner: "bench" })));
  }
  const row = JSON.stringify({ type: "Deposited", amount: 1 });

  // 1. HTTP load.
  const cases: [string, (client: number, n: number) => Promise<Response>][] = [
    ["a Worker answering a constant", () => fetch(url("/const"))],
    [
      "one INSERT per request, one object (baseline)",
      () => fetch(url("/insert?object=one"), { method: "POST", body: row }),
    ],
    [
      "one INSERT per request, 1,000 objects",
      (client, n) => fetch(url(`/insert?object=o${(client * 997 + n) % 1_000}`), { method: "POST", body: row }),
    ],
    ["x3m deposit over HTTP, one account", () => dispatch("deposit", { id: accounts[0], amount: 1 })],
    [
      "x3m deposit over HTTP, 1,000 accounts",
      (client, n) => dispatch("deposit", { id: accounts[(client * 997 + n) % 1_000], amount: 1 }),
    ],
  ];
  const rates = cases.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, call]] of cases.entries()) rates[i]?.push(await load(call));
  }
  const baseOne = median(rates[1] ?? []);
  const baseMany = median(rates[2] ?? []);
  console.log(`## Edge over HTTP: ${CLIENTS} concurrent clients, ${SECONDS} s per case, median of ${ROUNDS}\n`);
  console.log(
    markdown(
      ["case", "requests/s", "vs one INSERT per request (same spread)"],
      cases.map(([name], i) => {
        const rate = median(rates[i] ?? []);
        const base = name.includes("1,000") ? baseMany : baseOne;
        return [name, fmt(rate, 0), i === 0 ? "-" : `${fmt(rate / base, 2)}×`];
      }),
    ),
  );
  console.log(
    "\nGoal: x3m deposits ≥ 0.8× the one-INSERT object (each row against the baseline with the same spread).\n",
  );

  // 2. Poke latency, next to a raw WebSocket round trip, and 3. memory of idle connections.
  const ticket = async () =>
    (
      (await (await fetch(url("/x3m/ws/ticket"), { method: "POST", headers: AUTH, body: "{}" })).json()) as {
        ticket: string;
      }
    ).ticket;
  const open = async (frames: string[], withTicket: string) => {
    const socket = new WebSocket(
      `${edge.origin.replace(/^http/, "ws")}/x3m/ws?ticket=${encodeURIComponent(withTicket)}`,
    );
    socket.addEventListener("message", (event) => frames.push(String(event.data)));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () => reject(new Error("socket error")));
    });
    return socket;
  };
  const next = async (frames: string[], match: (text: string) => boolean) => {
    for (;;) {
      const index = frames.findIndex(match);
      if (index >= 0) return frames.splice(index, 1)[0];
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  const frames: string[] = [];
  const socket = await open(frames, await ticket());
  const id = accounts[1] as string;
  socket.send(JSON.stringify({ live: "track", aggregates: [{ aggregate: "account", id }] }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const pokes: number[] = [];
  const pings: number[] = [];
  for (let i = 0; i < 60; i++) {
    const started = performance.now();
    socket.send('{"live":"ping"}');
    await next(frames, (text) => text === '{"live":"pong"}');
    pings.push(performance.now() - started);
    await dispatch("deposit", { id, amount: 1 });
    const answered = performance.now();
    await next(frames, (text) => text.startsWith('{"live":"poke"'));
    pokes.push(performance.now() - answered);
  }
  socket.close();
  console.log(
    "## Live pokes: from a command's HTTP answer to the poke on a socket tracking the account (60 commands)\n",
  );
  console.log(
    markdown(
      ["case", "p50 ms", "p95 ms"],
      [
        [
          "raw WebSocket round trip (ping, answered by the runtime) (baseline)",
          fmt(percentile(pings, 0.5), 2),
          fmt(percentile(pings, 0.95), 2),
        ],
        ["poke after the command's answer", fmt(percentile(pokes, 0.5), 2), fmt(percentile(pokes, 0.95), 2)],
      ],
    ),
  );
  console.log("\n(The browser end to end, poke + pull + IndexedDB, is in the offline sync table.)\n");

  const before = residentMiB(edge.pid);
  const sockets: WebSocket[] = [];
  const shared = await ticket();
  for (let i = 0; i < 1_000; i += 50) {
    sockets.push(...(await Promise.all(Array.from({ length: 50 }, () => open([], shared)))));
  }
  for (const [i, s] of sockets.entries()) {
    s.send(JSON.stringify({ live: "track", aggregates: [{ aggregate: "account", id: accounts[i % 1_000] }] }));
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const connected = residentMiB(edge.pid);
  await new Promise((resolve) => setTimeout(resolve, 20_000)); // idle: the connection object may hibernate
  const idle = residentMiB(edge.pid);
  const stillOpen = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  for (const s of sockets) s.close();
  console.log("## 1,000 idle WebSocket connections (one principal: one connection object), local workerd memory\n");
  console.log(
    markdown(
      ["moment", "workerd resident MiB", "vs no connection"],
      [
        ["no connection (baseline)", fmt(before, 0), "1.00×"],
        ["1,000 connected and tracking", fmt(connected, 0), `${fmt(connected / before, 2)}×`],
        ["after 20 s idle (hibernation may have evicted the object)", fmt(idle, 0), `${fmt(idle / before, 2)}×`],
      ],
    ),
  );
  console.log(`\n${stillOpen} of 1,000 sockets still open after the idle period.`);
}

if (import.meta.url === `file://${process.argv[1]}`) await edgeBench();
