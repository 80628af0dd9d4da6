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
import { type Case, fmt, type Measurement, markdown, measureAll, median, ROUNDS } from "./measure.ts";

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
const versionOf = (reply: unknown) => ((reply as Message).response as { version?: number } | null)?.version;
async function depositMany(service: ServiceHandler, id: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const reply = await service(newDeposit(id));
    if (!isOk(reply)) throw new Error(`deposit on ${id}: ${JSON.stringify(reply)}`);
  }
}

// ---- commands: curves over stream length and number of streams --------------------------------------

/** One point of a curve: `streams` streams per store, each `length` events long; `stores` such stores. */
interface Point {
  readonly label: string;
  readonly streams: number;
  readonly length: number;
  readonly stores: number;
}

// Every command of a round finds its stream exactly `length` events long: each stream gets one command.
// Points with few streams per store use several stores, so that each round times enough commands.
const LENGTH_CURVE: readonly Point[] = [
  { label: "1", streams: 1, length: 1, stores: 2_000 },
  { label: "10", streams: 1, length: 10, stores: 2_000 },
  { label: "100", streams: 1, length: 100, stores: 1_000 },
  { label: "1,000", streams: 1, length: 1_000, stores: 200 },
  { label: "4,000", streams: 1, length: 4_000, stores: 100 },
];
const SHORT = 10;
const STREAMS_CURVE: readonly Point[] = [
  { label: "1", streams: 1, length: SHORT, stores: 2_000 },
  { label: "1,000", streams: 1_000, length: SHORT, stores: 1 },
  { label: "10,000", streams: 10_000, length: SHORT, stores: 1 },
];
const GOAL = 2;

/** A stream of `length` events: an open, then deposits of 1. */
const eventsOf = (length: number): AccountEvent[] => [
  opened,
  ...Array.from({ length: length - 1 }, (): AccountEvent => ({ type: "Deposited", data: { amount: 1 } })),
];

/** The last round's stores are garbage now: collect them before timing, not in the middle of it (`--expose-gc`). */
const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();

interface CommandCase extends Case {
  /** Whether the last result of `loop(1)` after `setup()` is a successful deposit of 1. */
  readonly check: (last: unknown) => boolean;
}

/** Times one command on every stream of every store; `loop(1)` runs only the first (the check). */
async function onEveryStream<TStore>(
  stores: readonly { readonly store: TStore; readonly ids: readonly string[] }[],
  n: number,
  command: (store: TStore, id: string) => Promise<unknown>,
): Promise<unknown> {
  let last: unknown;
  let done = 0;
  for (const { store, ids } of stores) {
    for (const id of ids) {
      last = await command(store, id);
      if (++done === n) return last;
    }
  }
  return last;
}

/** Each round starts on fresh Emmett stores holding the point's streams (untimed). */
function emmettCase(point: Point): CommandCase {
  let stores: { store: InMemoryEventStore; ids: string[] }[] = [];
  return {
    name: `Emmett ${point.label}`,
    iterations: point.streams * point.stores,
    async setup() {
      stores = [];
      for (let i = 0; i < point.stores; i++) {
        const store = getInMemoryEventStore();
        const ids = idsOf(point.streams);
        for (const id of ids) await store.appendToStream(id, eventsOf(point.length));
        stores.push({ store, ids });
      }
      collectGarbage();
    },
    async loop(n) {
      const last = await onEveryStream(stores, n, (store, id) => handle(store, id, deposit));
      if (n > 1) stores = []; // a round's stores are not kept alive while the other cases are timed
      return last;
    },
    check: (last) => (last as { newState?: Account } | undefined)?.newState?.balance === point.length,
  };
}

/** Each round starts on fresh x3m stores holding the point's streams, loaded into fresh hosts (untimed). */
function x3mCase(point: Point): CommandCase {
  let stores: { store: ServiceHandler; ids: string[] }[] = [];
  return {
    name: `x3m ${point.label}`,
    iterations: point.streams * point.stores,
    async setup() {
      stores = [];
      for (let i = 0; i < point.stores; i++) {
        const store = createMemoryEventStore();
        const ids = idsOf(point.streams);
        for (const id of ids) await store.append(`account-${id}`, eventsOf(point.length));
        const host: AccountHost = createAggregateHost(account, { store });
        for (const id of ids) await host.getState(id);
        stores.push({ store: host.on("deposit"), ids });
      }
      collectGarbage();
    },
    async loop(n) {
      const last = await onEveryStream(stores, n, (deposit, id) => deposit(newDeposit(id)) as Promise<unknown>);
      if (n > 1) stores = []; // a round's stores are not kept alive while the other cases are timed
      return last;
    },
    // The stream held `length` events (versions 0 … length - 1): the deposit is version `length`.
    check: (last) => isOk(last) && (last as Message).response?.status === "ok" && versionOf(last) === point.length,
  };
}

/**
 * The floor for x3m: the least any host can do per command over the same store and messages: the state
 * kept in a map, the aggregate's own handler, one append with the expected version, the fold, an answer
 * with the version. No per-aggregate queue, no answer lookup, no message copies: what the host adds on top
 * of this is its own cost.
 */
function floorCase(point: Point): CommandCase {
  type Loaded = { stream: string; state: Account; version: number };
  let stores: { store: { events: EventStore; loaded: Map<string, Loaded> }; ids: string[] }[] = [];
  const handler = account.commands.deposit as unknown as (msg: Message, state: Account) => Message;
  return {
    name: `floor ${point.label}`,
    iterations: point.streams * point.stores,
    async setup() {
      stores = [];
      for (let i = 0; i < point.stores; i++) {
        const events = createMemoryEventStore();
        const ids = idsOf(point.streams);
        const loaded = new Map<string, Loaded>();
        for (const id of ids) {
          const stream = `account-${id}`;
          await events.append(stream, eventsOf(point.length));
          const state = (await events.read(stream)).reduce(
            (folded, event) => evolve(folded, event.data as AccountEvent),
            initialState(),
          );
          loaded.set(id, { stream, state, version: point.length - 1 });
        }
        stores.push({ store: { events, loaded }, ids });
      }
      collectGarbage();
    },
    async loop(n) {
      const last = await onEveryStream(stores, n, async ({ events, loaded }, id) => {
        const current = loaded.get(id) as Loaded;
        const handled = handler(newDeposit(id), current.state);
        const written = await events.append(current.stream, handled.events as AccountEvent[], {
          expectedVersion: current.version,
          metadata: { messageId: handled.id },
        });
        if (!written.ok) throw new Error(`floor append on ${id}: ${JSON.stringify(written)}`);
        current.version += handled.events.length;
        for (const event of handled.events) current.state = evolve(current.state, event as AccountEvent);
        return { status: handled.response?.status, version: current.version };
      });
      if (n > 1) stores = [];
      return last;
    },
    check: (last) => {
      const answer = last as { status?: string; version?: number } | undefined;
      return answer?.status === "ok" && answer.version === point.length;
    },
  };
}

interface CurveRow {
  readonly point: Point;
  readonly emmett: Measurement;
  readonly x3m: Measurement;
  readonly floor: Measurement;
}

function curveTable(title: string, header: string, rows: readonly CurveRow[]): void {
  const spread = (m: Measurement) => `±${fmt(m.spreadPct, 0)}%`;
  console.log(`\n### ${title}\n`);
  console.log(
    markdown(
      [
        header,
        "Emmett µs/command",
        "x3m µs/command",
        "x3m speed vs Emmett",
        `goal ≥ ${GOAL}×`,
        "floor µs/command",
        "floor speed vs Emmett",
        "spreads (Emmett / x3m / floor)",
      ],
      rows.map(({ point, emmett, x3m, floor }) => {
        const speed = emmett.usPerCall / x3m.usPerCall;
        return [
          point.label,
          fmt(emmett.usPerCall, 2),
          fmt(x3m.usPerCall, 2),
          `${fmt(speed, 2)}×`,
          speed >= GOAL ? "met" : "MISSED",
          fmt(floor.usPerCall, 2),
          `${fmt(emmett.usPerCall / floor.usPerCall, 2)}×`,
          `${spread(emmett)} / ${spread(x3m)} / ${spread(floor)}`,
        ];
      }),
    ),
  );
}

export async function commandCurves(): Promise<void> {
  const points = [...LENGTH_CURVE, ...STREAMS_CURVE.filter((p) => p.streams > 1)];
  const cases = points.flatMap((point) => [emmettCase(point), x3mCase(point), floorCase(point)]);
  for (const c of cases) {
    await c.setup?.();
    const last = await c.loop(1);
    if (!c.check(last)) throw new Error(`${c.name}: unexpected result ${JSON.stringify(last)}`);
  }
  const results = await measureAll(cases);
  const rowOf = (point: Point): CurveRow => {
    const i = points.findIndex((p) => p.streams === point.streams && p.length === point.length);
    const [emmett, x3m, floor] = results.slice(3 * i, 3 * i + 3) as [Measurement, Measurement, Measurement];
    return { point, emmett, x3m, floor };
  };

  console.log("## Commands: a deposit of 1 on an open account, as curves\n");
  console.log(`Emmett: \`CommandHandler({ evolve, initialState })\` on \`getInMemoryEventStore()\`: each command reads and folds the whole stream, decides, appends.
x3m: \`host.on("deposit")(Message.new(…))\` called directly (no node, no dispatch), the message built inside the timed loop; the host keeps each aggregate's state in memory, folds the new event, appends it to \`createMemoryEventStore()\`.
Every point: fresh stores each round (untimed), filled with streams of exactly that many events (x3m's loaded into its host, untimed), then one command on every stream, each awaited, so every command finds its stream at exactly the point's length. A point with one stream per store uses many stores (2,000 for ≤ 10 events, 1,000, 200, 100 for longer streams).
Floor: the least a host can do over the same store and messages (state in a map, the aggregate's handler, one append with the expected version and the message id, the fold, an answer), with no queue, no answer lookup and no message copies: the gap between x3m and the floor is the host's own cost.
Median of ${ROUNDS} interleaved rounds (every case of both curves takes turns) after one warm-up round; x3m speed vs Emmett = Emmett's µs per command ÷ x3m's.`);
  curveTable("Over stream length (one stream per store)", "events in the stream", LENGTH_CURVE.map(rowOf));
  curveTable(
    `Over the number of streams (streams of ${SHORT} events)`,
    "streams in the store",
    STREAMS_CURVE.map(rowOf),
  );
  const all = [...LENGTH_CURVE, ...STREAMS_CURVE].map(rowOf);
  const missed = all.filter(({ emmett, x3m }) => emmett.usPerCall / x3m.usPerCall < GOAL);
  console.log(
    missed.length === 0
      ? `\nx3m is at least ${GOAL}× Emmett at every point of both curves.`
      : `\nMISSED the ${GOAL}× goal at: ${missed.map(({ point }) => `${point.streams} × ${point.length} events`).join(", ")}.`,
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
  await commandCurves();
  await coldLoads();
  console.log(`\nMeasured in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}
