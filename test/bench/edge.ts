/**
 * The edge at scale (part of `npm run bench`), against its own Worker under `wrangler dev`
 * (test/bench/edge/worker.ts): HTTP commands per second from 64 concurrent clients into one account and
 * spread over 1,000 accounts, next to a Worker answering a constant and an object doing one INSERT per
 * request; the delay from sending a command to the poke of a client tracking it, next to that command's
 * HTTP round trip and a raw WebSocket round trip; and the memory of 1,000 idle connections before and after
 * the edge hibernates. Every baseline is measured in the same run. Not a test.
 * `node test/bench/edge.ts pokes` runs the poke latency part alone.
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

/** A text frame and when it reached Node (`performance.now()`, taken in the socket's message listener). */
interface Arrived {
  readonly text: string;
  readonly at: number;
}

/** `only: "pokes"` runs the poke latency part alone (no HTTP load, no idle connections). */
export async function edgeBench(only?: "pokes"): Promise<void> {
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
  if (only !== "pokes") await httpLoad(url, dispatch, accounts);
  await pokeLatency(edge.origin, url, dispatch, accounts);
  if (only !== "pokes") await idleConnections(edge.origin, url, edge.pid, accounts);
}

type Dispatch = (service: string, rawRequest: Record<string, unknown>) => Promise<Response>;

/** 1. HTTP commands per second, next to a constant and one INSERT per request. */
async function httpLoad(url: (path: string) => string, dispatch: Dispatch, accounts: string[]): Promise<void> {
  const row = JSON.stringify({ type: "Deposited", amount: 1 });
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
}

const ticketFrom = async (url: (path: string) => string) =>
  (
    (await (await fetch(url("/x3m/ws/ticket"), { method: "POST", headers: AUTH, body: "{}" })).json()) as {
      ticket: string;
    }
  ).ticket;

/** A socket to the edge's live channel; each text frame is pushed to `frames` with its arrival time. */
async function openLive(origin: string, frames: Arrived[], ticket: string): Promise<WebSocket> {
  const socket = new WebSocket(`${origin.replace(/^http/, "ws")}/x3m/ws?ticket=${encodeURIComponent(ticket)}`);
  socket.addEventListener("message", (event) => frames.push({ text: String(event.data), at: performance.now() }));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error("socket error")));
  });
  return socket;
}

/** When the first frame matching `match` arrived (it is taken out of `frames`). */
async function arrival(frames: Arrived[], match: (text: string) => boolean): Promise<number> {
  for (;;) {
    const index = frames.findIndex((frame) => match(frame.text));
    if (index >= 0) return (frames.splice(index, 1)[0] as Arrived).at;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * 2. Poke latency: from just before a deposit is sent to the poke's arrival on a socket tracking the
 * account, next to the same deposit's HTTP round trip (either may come first) and a raw WebSocket round
 * trip. Times are taken where each frame or answer reaches Node, not where the loop notices it.
 */
async function pokeLatency(
  origin: string,
  url: (path: string) => string,
  dispatch: Dispatch,
  accounts: string[],
): Promise<void> {
  const frames: Arrived[] = [];
  const socket = await openLive(origin, frames, await ticketFrom(url));
  const id = accounts[1] as string;
  socket.send(JSON.stringify({ live: "track", aggregates: [{ aggregate: "account", id }] }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const pokes: number[] = [];
  const answers: number[] = [];
  const pings: number[] = [];
  let pokedFirst = 0;
  for (let i = 0; i < 60; i++) {
    const pinged = performance.now();
    socket.send('{"live":"ping"}');
    pings.push((await arrival(frames, (text) => text === '{"live":"pong"}')) - pinged);
    const sent = performance.now();
    const answered = dispatch("deposit", { id, amount: 1 }).then(async (response) => {
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`edge bench: a deposit answered ${response.status}`);
      return performance.now();
    });
    const [answeredAt, pokedAt] = await Promise.all([
      answered,
      arrival(frames, (text) => text.startsWith('{"live":"poke"')),
    ]);
    answers.push(answeredAt - sent);
    pokes.push(pokedAt - sent);
    if (pokedAt < answeredAt) pokedFirst++;
  }
  socket.close();
  const ping50 = percentile(pings, 0.5);
  const row = (name: string, values: number[]) => [
    name,
    fmt(percentile(values, 0.5), 2),
    fmt(percentile(values, 0.95), 2),
    `${fmt(percentile(values, 0.5) / ping50, 1)}×`,
  ];
  console.log(
    "## Live pokes: from sending a deposit to the poke on a socket tracking the account, next to its HTTP answer (60 commands)\n",
  );
  console.log(
    markdown(
      ["case", "p50 ms", "p95 ms", "p50 vs WebSocket round trip"],
      [
        row("raw WebSocket round trip (ping, answered by the runtime) (baseline)", pings),
        row("the deposit's HTTP round trip (send → answer read)", answers),
        row("poke (send → poke arrives)", pokes),
      ],
    ),
  );
  console.log(`\nThe poke arrived before the HTTP answer for ${pokedFirst} of 60 deposits.`);
  console.log("(The browser end to end, poke + pull + IndexedDB, is in the offline sync table.)\n");
}

/** 3. The memory of 1,000 idle connections, before and after the edge may hibernate. */
async function idleConnections(
  origin: string,
  url: (path: string) => string,
  pid: number,
  accounts: string[],
): Promise<void> {
  const before = residentMiB(pid);
  const sockets: WebSocket[] = [];
  const shared = await ticketFrom(url);
  for (let i = 0; i < 1_000; i += 50) {
    sockets.push(...(await Promise.all(Array.from({ length: 50 }, () => openLive(origin, [], shared)))));
  }
  for (const [i, s] of sockets.entries()) {
    s.send(JSON.stringify({ live: "track", aggregates: [{ aggregate: "account", id: accounts[i % 1_000] }] }));
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const connected = residentMiB(pid);
  await new Promise((resolve) => setTimeout(resolve, 20_000)); // idle: the connection object may hibernate
  const idle = residentMiB(pid);
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

// `node test/bench/edge.ts [pokes]` runs this suite alone (or only its poke latency part).
if (import.meta.url === `file://${process.argv[1]}`) await edgeBench(process.argv[2] === "pokes" ? "pokes" : undefined);
