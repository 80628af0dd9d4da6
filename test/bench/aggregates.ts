/**
 * Aggregate benchmarks (the second suite of `npm run bench`): deposits per second on the aggregate
 * host next to @event-driven-io/emmett's command handler in the same run, then cold-load time against
 * stream length with and without snapshots.
 */
import { CommandHandler, type Event, getInMemoryEventStore, type InMemoryEventStore } from "@event-driven-io/emmett";
import {
  type AggregateHost,
  createAggregateHost,
  createMemoryEventStore,
  defineAggregate,
  type EventStore,
  Message,
  type ServiceHandler,
} from "../../src/index.ts";
import { type Case, fmt, type Measurement, markdown, measureAll, median, ROUNDS, table } from "./measure.ts";

// ---- one bank-account domain for both libraries -----------------------------------------------------

type AccountEvent = Event<"AccountOpened", { owner: string }> | Event<"Deposited", { amount: number }>;
interface Account {
  opened: boolean;
  balance: number;
}
const initialState = (): Account => ({ opened: false, balance: 0 });
const evolve = (state: Account, event: AccountEvent): Account =>
  event.type === "AccountOpened"
    ? { ...state, opened: true }
    : { ...state, balance: state.balance + event.data.amount };
const opened: AccountEvent = { type: "AccountOpened", data: { owner: "Ada" } };

// Emmett: a command is a function of the state folded from the stream; deposits need an open account.
const handle = CommandHandler<Account, AccountEvent>({ evolve, initialState });
const deposit = (state: Account): AccountEvent => {
  if (!state.opened) throw new Error("no such account");
  return { type: "Deposited", data: { amount: 1 } };
};

// x3m: the same events and fold; `host.on("deposit")` answers `not_found` for an account never opened.
const account = defineAggregate({
  name: "account",
  initialState,
  apply: evolve,
  commands: {
    open: (msg) => msg.addEvent(opened).created(msg.aggregateMeta.id ?? ""),
    deposit: (msg) => msg.addEvent({ type: "Deposited", data: { amount: Number(msg.rawRequest.amount) } }).ok(),
  },
});
type AccountHost = AggregateHost<typeof account>;
const newDeposit = (id: string) => Message.new("deposit", { rawRequest: { id, amount: 1 } });
const idsOf = (count: number) => Array.from({ length: count }, (_, i) => `acc-${i}`);

const isOk = (reply: unknown) => reply instanceof Message && reply.response?.status === "ok";
async function depositMany(service: ServiceHandler, id: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const reply = await service(newDeposit(id));
    if (!isOk(reply)) throw new Error(`deposit on ${id}: ${JSON.stringify(reply)}`);
  }
}

// ---- commands per second ----------------------------------------------------------------------------

const ONE_STREAM_DEPOSITS = 2_000;
const MANY = 1_000;
const MANY_DEPOSITS = 20_000;
const IN_FLIGHT = 100;

interface CommandCase extends Case {
  /** Whether the last result of `loop(1)` after `setup()` is a successful deposit of 1. */
  readonly check: (last: unknown) => boolean;
}

/** Each round starts on a fresh Emmett store with `streams` opened accounts (untimed). */
function emmettCase(name: string, streams: number, iterations: number): CommandCase {
  let store: InMemoryEventStore = getInMemoryEventStore();
  let ids: string[] = [];
  return {
    name,
    iterations,
    async setup() {
      store = getInMemoryEventStore();
      ids = idsOf(streams);
      for (const id of ids) await handle(store, id, () => opened);
    },
    async loop(n) {
      let last: unknown;
      for (let i = 0; i < n; i++) last = await handle(store, ids[i % ids.length] as string, deposit);
      return last;
    },
    check: (last) => (last as { newState?: Account } | undefined)?.newState?.balance === 1,
  };
}

/** Each round starts on a fresh x3m host and store with `aggregates` opened accounts (untimed). */
function x3mCase(name: string, aggregates: number, iterations: number, inFlight = 1): CommandCase {
  let service: ServiceHandler = () => Promise.reject(new Error("setup first"));
  let ids: string[] = [];
  const sequential = async (n: number) => {
    let last: unknown;
    for (let i = 0; i < n; i++) last = await service(newDeposit(ids[i % ids.length] as string));
    return last;
  };
  // Batches of `inFlight` deposits on consecutive (so distinct) accounts, started together.
  const concurrent = async (n: number) => {
    let last: unknown;
    for (let i = 0; i < n; i += inFlight) {
      const batch: unknown[] = [];
      const end = Math.min(n, i + inFlight);
      for (let j = i; j < end; j++) batch.push(service(newDeposit(ids[j % ids.length] as string)));
      const replies = await Promise.all(batch);
      last = replies[replies.length - 1];
    }
    return last;
  };
  return {
    name,
    iterations,
    async setup() {
      const host: AccountHost = createAggregateHost(account, { store: createMemoryEventStore() });
      const open = host.onNew("open");
      ids = idsOf(aggregates);
      for (const id of ids) await open(Message.new("open", { rawRequest: { id } }));
      service = host.on("deposit");
    },
    loop: inFlight > 1 ? concurrent : sequential,
    check: isOk,
  };
}

async function commandsPerSecond(): Promise<void> {
  const many = MANY.toLocaleString("en-US");
  const cases = [
    emmettCase("(a) Emmett, one stream", 1, ONE_STREAM_DEPOSITS),
    x3mCase("(b) x3m, one aggregate", 1, ONE_STREAM_DEPOSITS),
    emmettCase(`(c) Emmett, ${many} streams round-robin`, MANY, MANY_DEPOSITS),
    x3mCase(`(d) x3m, ${many} aggregates round-robin`, MANY, MANY_DEPOSITS),
    x3mCase(
      `(e) x3m, ${many} aggregates, ${IN_FLIGHT} commands in flight (no Emmett pair)`,
      MANY,
      MANY_DEPOSITS,
      IN_FLIGHT,
    ),
  ];
  for (const c of cases) {
    await c.setup?.();
    const last = await c.loop(1);
    if (!c.check(last)) throw new Error(`${c.name}: unexpected result ${JSON.stringify(last)}`);
  }

  const results = await measureAll(cases);
  // Emmett's row of each pair is the baseline of both rows; (e) has none.
  const pairs: Record<number, number> = { 0: 0, 1: 0, 2: 2, 3: 2 };
  const baseline = (_: Measurement, i: number) => {
    const base = pairs[i];
    return base === undefined ? undefined : results[base];
  };
  const rate = (i: number) => results[i]?.opsPerSec ?? Number.NaN;

  console.log("## Commands per second: a deposit of 1 on an open account\n");
  console.log(table(results, baseline, "time vs Emmett"));
  console.log(`
Emmett rows: \`CommandHandler({ evolve, initialState })\` on \`getInMemoryEventStore()\`; each deposit reads and folds the whole stream, decides, appends.
x3m rows: \`host.on("deposit")(Message.new(…))\` called directly (no node, no dispatch); the host keeps the state in memory, folds the new event, appends it to \`createMemoryEventStore()\`.
(a), (b): each round opens a fresh account (untimed), then ${ONE_STREAM_DEPOSITS.toLocaleString("en-US")} deposits, each awaited; the stream grows from 1 to ${(ONE_STREAM_DEPOSITS + 1).toLocaleString("en-US")} events, and Emmett's cost per command with it.
(c), (d): each round opens ${many} fresh accounts (untimed), then ${MANY_DEPOSITS.toLocaleString("en-US")} deposits cycling through them, each awaited (streams of 1 to ${MANY_DEPOSITS / MANY + 1} events).
(e): as (d), but ${IN_FLIGHT} deposits on ${IN_FLIGHT} different accounts started together (\`Promise.all\`): one account's queue does not hold up another's.
time vs Emmett: the row's µs per command ÷ the Emmett row of its pair; below 1× means x3m is faster.
Median of ${ROUNDS} interleaved rounds after one warm-up round.`);
  console.log(
    `x3m runs ${fmt(rate(1) / rate(0), 2)}× Emmett's commands/sec on one stream, ${fmt(rate(3) / rate(2), 2)}× across ${many} streams; ${IN_FLIGHT} in flight run at ${fmt(rate(4) / rate(3), 2)}× the one-at-a-time rate of (d).`,
  );
}

// ---- cold load ----------------------------------------------------------------------------------------

const SIZES = [1_000, 10_000, 100_000];
const POLICY = { every: 1_000, schemaVersion: 1 };
/** The host's snapshot with `processed: []`, saved by hand under its own schema version. */
const STATE_ONLY = { every: 1_000, schemaVersion: 2 };
const WORST_SINCE = POLICY.every - 1;

interface LoadRow {
  readonly events: number;
  readonly since: number;
  readonly snapshotKb: number;
  /** Median ms of a cold `getState`: without snapshots, with the host's snapshot, with the state-only one. */
  readonly none: number;
  readonly host: number;
  readonly stateOnly: number;
}

/** Times `getState` on fresh hosts (one warm-up, then `ROUNDS` interleaved rounds); checks what each loaded. */
async function timeLoads(store: EventStore, id: string, version: number): Promise<[number, number, number]> {
  const variants = [undefined, POLICY, STATE_ONLY];
  const times = variants.map((): number[] => []);
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [i, snapshots] of variants.entries()) {
      const host: AccountHost = createAggregateHost(account, snapshots ? { store, snapshots } : { store });
      const start = performance.now();
      const loaded = await host.getState(id);
      const ms = performance.now() - start;
      if (loaded?.version !== version || loaded.state.balance !== version) {
        throw new Error(`cold load of ${version + 1} events: got ${JSON.stringify(loaded)}`);
      }
      if (round > 0) times[i]?.push(ms);
    }
  }
  const [none = [], host = [], stateOnly = []] = times;
  return [median(none), median(host), median(stateOnly)];
}

/**
 * One stream of `size` events (an open, then deposits) written through a host, the last one through a
 * host with the snapshot policy, which writes its snapshot at version `size - 1`. Times cold loads right
 * after that snapshot, then again after `WORST_SINCE` more deposits.
 */
async function coldLoadRows(size: number): Promise<LoadRow[]> {
  const store = createMemoryEventStore();
  const id = "cold";
  const writer: AccountHost = createAggregateHost(account, { store });
  await writer.onNew("open")(Message.new("open", { rawRequest: { id } }));
  await depositMany(writer.on("deposit"), id, size - 2);
  await depositMany(createAggregateHost(account, { store, snapshots: POLICY }).on("deposit"), id, 1);
  writer.unload(id); // its in-memory version is one behind now

  const stream = `account-${id}`;
  const snapshot = await store.loadSnapshot(stream, { schemaVersion: POLICY.schemaVersion });
  if (snapshot?.version !== size - 1) throw new Error(`no snapshot at version ${size - 1}`);
  const { state } = snapshot.state as { state: Account };
  await store.saveSnapshot(stream, {
    ...snapshot,
    schemaVersion: STATE_ONLY.schemaVersion,
    state: { state, processed: [] },
  });
  const snapshotKb = JSON.stringify(snapshot).length / 1024;

  const rows: LoadRow[] = [];
  for (const since of [0, WORST_SINCE]) {
    if (since > 0) await depositMany(writer.on("deposit"), id, since);
    const [none, host, stateOnly] = await timeLoads(store, id, size - 1 + since);
    rows.push({ events: size + since, since, snapshotKb, none, host, stateOnly });
  }
  return rows;
}

async function coldLoads(): Promise<void> {
  const rows: LoadRow[] = [];
  for (const size of SIZES) rows.push(...(await coldLoadRows(size)));

  const n = (value: number) => value.toLocaleString("en-US");
  const ms = (value: number) => fmt(value, value < 10 ? 2 : 1);
  console.log("\n## Cold load: `host.getState(id)` on a fresh host, one stream\n");
  console.log(
    markdown(
      [
        "events in stream",
        "since snapshot",
        "no snapshot (ms)",
        "host snapshot (ms)",
        "speed-up",
        "host snapshot size",
        "state-only snapshot (ms)",
        "speed-up",
      ],
      rows.map((r) => [
        n(r.events),
        n(r.since),
        ms(r.none),
        ms(r.host),
        `${fmt(r.none / r.host, 1)}×`,
        `${n(Math.round(r.snapshotKb))} KB`,
        ms(r.stateOnly),
        `${fmt(r.none / r.stateOnly, 0)}×`,
      ]),
    ),
  );
  console.log(`
events in stream: an open and deposits, each written by a host command; since snapshot: events after the latest snapshot (policy \`every: ${n(POLICY.every)}\`: 0 right after one, ${WORST_SINCE} at worst).
no snapshot: a host without a snapshot policy reads and folds every event (pages of 1,000).
host snapshot: a host with the policy loads the snapshot the host itself wrote ({ state, processed }: every message id handled so far with its response; size as JSON), then the events after it.
state-only snapshot: that snapshot with \`processed: []\` (saved by hand under another schema version): the cost of the state alone, then the events after it.
Median of ${ROUNDS} cold loads after one warm-up, the three kinds interleaved.`);

  // Right after a snapshot, the smallest and the largest stream; and every row 999 events after one.
  const first = rows[0];
  const last = rows[rows.length - 2];
  const range = (values: number[]) => `${ms(Math.min(...values))}–${ms(Math.max(...values))} ms`;
  const stateOnlyAt = (since: number) => range(rows.filter((r) => r.since === since).map((r) => r.stateOnly));
  const perEvent = median(rows.map((r) => (r.none / r.events) * 1000));
  if (first && last) {
    console.log(
      `Without a snapshot a cold load costs ~${fmt(perEvent, 1)} µs per event: ${fmt(last.none / first.none, 0)}× from ${n(first.events)} to ${n(last.events)} events. ` +
        `With the host's snapshot it grows ${fmt(last.host / first.host, 0)}× too: the snapshot holds every message id handled (${n(Math.round(last.snapshotKb))} KB at ${n(last.events)}). ` +
        `With the state alone it takes ${stateOnlyAt(0)} right after the snapshot and ${stateOnlyAt(WORST_SINCE)} ${WORST_SINCE} events later, whatever the stream length.`,
    );
  }
}

export async function aggregatesBench(): Promise<void> {
  const started = performance.now();
  console.log("# x3m-system aggregate benchmark\n");
  console.log(
    `Node ${process.version} (${process.platform}/${process.arch}), @event-driven-io/emmett 0.42 in the same run.\n`,
  );
  await commandsPerSecond();
  await coldLoads();
  console.log(`\nMeasured in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}
