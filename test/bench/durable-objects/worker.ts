// The Durable Objects benchmark's Worker (`npm run bench` starts it with `wrangler dev`; not the playground).
// Every case runs a whole batch inside one object and times it there; the Worker only forwards a
// benchmark call to the object named in it and answers its result as JSON.
import { DurableObject } from "cloudflare:workers";
// The adapter's modules one by one: the benchmark needs neither the edge Worker nor its endpoints.
import { defineAggregateObject } from "../../../adapters/durable-objects/aggregate-object.ts";
import { type AlarmClock, createAlarmClock } from "../../../adapters/durable-objects/alarm-clock.ts";
import type { AggregateCall, ClientCommandData } from "../../../adapters/durable-objects/rpc.ts";
import { runSchedulerAlarm } from "../../../adapters/durable-objects/scheduler-object.ts";
import { createSqlAlarmStore } from "../../../adapters/durable-objects/sql-alarm-store.ts";
import { createSqlEventStore } from "../../../adapters/durable-objects/sql-event-store.ts";
import {
  type AggregateHost,
  type AggregateRoute,
  type AlarmStore,
  createAggregateHost,
  createScheduler,
  type EventStore,
  Message,
  type MessageData,
  type Scheduler,
  type ServiceHandler,
} from "../../../src/index.ts";
import { account } from "../../fixtures/account.ts";

type AccountHost = AggregateHost<typeof account>;

interface Env {
  readonly COMMANDS: DurableObjectNamespace;
  readonly ACCOUNTS: DurableObjectNamespace<AccountObjectBench>;
  readonly SCHEDULER: DurableObjectNamespace;
  readonly RAW_ALARMS: DurableObjectNamespace;
}

/** The snapshot policy of the cold-load cases (the host writes one every 1,000 events). */
export const POLICY = { every: 1_000, schemaVersion: 1 } as const;
const SEED_BATCH = 1_000;

/** A batch's time as the object sees it (`performance.now()` advances in local workerd: 1 ms steps). */
export interface Timed {
  readonly ms: number;
}

const now = () => performance.now();
const isOk = (reply: unknown) => reply instanceof Message && reply.response?.status === "ok";
const deposit = (id: string) => Message.new("deposit", { rawRequest: { id, amount: 1 } });

/** A table shaped like an event row with no index but its rowid: where the raw-INSERT baseline writes. */
const RAW_TABLE = `CREATE TABLE IF NOT EXISTS raw_events (
  position INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL)`;

/** The raw baseline's one statement: deposit `i` of stream "raw" into `raw_events`, as both baselines write it. */
function insertRawEvent(sql: SqlStorage, i: number, data: string, metadata: string): void {
  sql.exec(
    "INSERT INTO raw_events (stream, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
    "raw",
    i,
    "Deposited",
    data,
    metadata,
    Date.now(),
  );
}

/**
 * The platform floor: `n` plain `INSERT`s of a deposit's stored data and metadata text (the exact strings
 * the store wrote for one) into `raw_events`, one statement per awaited call. `inTransaction` wraps each
 * in `transactionSync`.
 */
async function rawInsertLoop(
  storage: DurableObjectStorage,
  n: number,
  [data, metadata]: [string, string],
  inTransaction = false,
): Promise<Timed & { bytes: number }> {
  const { sql } = storage;
  sql.exec("DELETE FROM raw_events");
  const insert = (i: number) => insertRawEvent(sql, i, data, metadata);
  // An async call per insert, awaited, as every command and store append is.
  const call = inTransaction
    ? async (i: number) => storage.transactionSync(() => insert(i))
    : async (i: number) => insert(i);
  const start = now();
  for (let i = 0; i < n; i++) await call(i);
  return { ms: now() - start, bytes: data.length + metadata.length };
}

/** The stored `data` and `metadata` text of the latest deposit event. */
function depositSample(storage: DurableObjectStorage): [string, string] {
  const row = storage.sql
    .exec("SELECT data, metadata FROM x3m_events WHERE type = 'Deposited' ORDER BY position DESC LIMIT 1")
    .toArray()[0];
  if (!row) throw new Error("run deposits first: no deposit stored yet");
  return [String(row.data), String(row.metadata)];
}

/**
 * A copy of the store's events table with its indexes and client trigger: the store's own one-statement
 * append written raw goes here (writing into x3m_events behind the store's back would break its cached
 * positions).
 */
const FLOOR_TABLES = `
CREATE TABLE IF NOT EXISTS floor_events (
  position INTEGER PRIMARY KEY, stream TEXT NOT NULL, epoch INTEGER NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL,
  client_id TEXT, client_seq INTEGER, UNIQUE (stream, epoch, version));
CREATE INDEX IF NOT EXISTS floor_events_by_message ON floor_events (json_extract(metadata, '$.messageId'));
CREATE TABLE IF NOT EXISTS floor_clients (stream TEXT NOT NULL, client_id TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (stream, client_id)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS floor_events_client AFTER INSERT ON floor_events WHEN new.client_id IS NOT NULL
BEGIN
  INSERT INTO floor_clients (stream, client_id, seq) VALUES (new.stream, new.client_id, new.client_seq)
  ON CONFLICT (stream, client_id) DO UPDATE SET seq = excluded.seq;
END;`;

/**
 * The store's append written by hand, the floor of its design: one `INSERT` of the event row (position
 * given, no `RETURNING`) into `floor_events` (see `FLOOR_TABLES`), `n` awaited calls.
 */
async function floorLoop(storage: DurableObjectStorage, n: number): Promise<Timed> {
  const [data, metadata] = depositSample(storage);
  const stream = `floor-${crypto.randomUUID()}`;
  const { sql } = storage;
  let position = Number(sql.exec("SELECT COALESCE(MAX(position), 0) AS last FROM floor_events").one().last);
  const append = async (version: number) =>
    sql.exec(
      "INSERT INTO floor_events (position, stream, epoch, version, type, data, metadata, recorded_at, client_id, client_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ++position,
      stream,
      0,
      version,
      "Deposited",
      data,
      metadata,
      Date.now(),
      null,
      null,
    );
  const start = now();
  for (let i = 0; i < n; i++) await append(i);
  return { ms: now() - start };
}

const DEPOSIT_ROUTE: AggregateRoute = { flow: "on", command: "deposit", idField: "id", generateIdIfMissing: false };

/** What the Worker's forwarding service sends an aggregate object for a deposit (`aggregateServices(…).on`). */
function depositCall(id: string): AggregateCall {
  // Structured-cloned, as an RPC argument arrives in the object: plain data, no Message instance.
  return structuredClone({
    flow: "on",
    command: "deposit",
    envelope: deposit(id).prepareAggregateId("id").toJSON(),
    idField: "id",
    generateIdIfMissing: false,
  });
}

/**
 * The real aggregate object (`defineAggregateObject(account)`), driven through its RPC entry points from
 * inside the object (the RPC hop itself is measured from the Worker, see `rpcLoop`), next to raw inserts in
 * the same object.
 */
export class AccountObjectBench extends defineAggregateObject(account) {
  #sample: [string, string] | undefined;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(RAW_TABLE);
    ctx.storage.sql.exec(FLOOR_TABLES);
  }

  /** A new account through `execute` (untimed), for the deposits that follow. */
  async #open(): Promise<string> {
    // Random: the object may be evicted and built again between calls (a counter would start over).
    const id = `obj-acc-${crypto.randomUUID()}`;
    const open = Message.new("open", { rawRequest: { id, owner: "Ada" } }).prepareAggregateId("id", {
      generateIfMissing: true,
    });
    const opened = await this.execute(
      structuredClone({
        flow: "onNew",
        command: "open",
        envelope: open.toJSON(),
        idField: "id",
        generateIdIfMissing: true,
      }),
    );
    if (opened.response?.status !== "created") throw new Error(`open: ${JSON.stringify(opened.response)}`);
    return id;
  }

  async #expectBalance(id: string, n: number): Promise<void> {
    const current = (await this.state(id)) as { state: { balance: number }; version: number } | undefined;
    if (current?.version !== n || current.state.balance !== n) {
      throw new Error(`after ${n} deposits: ${JSON.stringify(current)}`);
    }
  }

  /**
   * `n` deposits, each one `execute` call (what the Worker's `aggregateServices(…).on("deposit")` makes),
   * awaited. `validated`: each envelope goes through `Message.parse` first, as the object did before it
   * trusted its callers (the parsed message passes `fromTrusted` as is).
   */
  async executeDeposits(n: number, validated = false): Promise<Timed> {
    const id = await this.#open();
    const calls = Array.from({ length: n }, () => depositCall(id));
    const start = now();
    for (const call of calls) {
      const reply = await this.execute(validated ? { ...call, envelope: Message.parse(call.envelope) } : call);
      if (reply.response?.status !== "ok") throw new Error(`deposit: ${JSON.stringify(reply.response)}`);
    }
    const ms = now() - start;
    await this.#expectBalance(id, n);
    return { ms };
  }

  /**
   * `n` deposits pushed by one offline client (sequences 1…n) through `runClientCommands`, `batch` per call
   * (what the sync endpoint sends for one aggregate of a push), each call awaited.
   */
  async clientDeposits(n: number, batch: number): Promise<Timed> {
    const id = await this.#open();
    const clientId = `client-${crypto.randomUUID()}`;
    const commands = Array.from(
      { length: n },
      (_, i): ClientCommandData =>
        structuredClone({
          client: { clientId, seq: i + 1 },
          route: DEPOSIT_ROUTE,
          envelope: deposit(id).prepareAggregateId("id").toJSON(),
        }),
    );
    const start = now();
    for (let i = 0; i < n; i += batch) {
      const results = await this.runClientCommands(id, commands.slice(i, i + batch));
      for (const result of results) {
        if (result.status !== "applied") throw new Error(`client deposit: ${JSON.stringify(result)}`);
      }
    }
    const ms = now() - start;
    await this.#expectBalance(id, n);
    return { ms };
  }

  /** The baseline in this same object (see `rawInsertLoop`). */
  async rawInserts(n: number): Promise<Timed & { bytes: number }> {
    return rawInsertLoop(this.ctx.storage, n, depositSample(this.ctx.storage));
  }

  /** The store's one statement by hand in this same object (see `floorLoop`). */
  async storeStatement(n: number): Promise<Timed> {
    return floorLoop(this.ctx.storage, n);
  }

  /** One raw insert: the unit of work of the Worker-side baseline (one RPC per insert, see `rpcLoop`). */
  async rawInsertOnce(i: number): Promise<void> {
    this.#sample ??= depositSample(this.ctx.storage);
    const [data, metadata] = this.#sample;
    insertRawEvent(this.ctx.storage.sql, i, data, metadata);
  }

  /** A new account for the Worker-side loop of `execute` calls. */
  async openAccount(): Promise<string> {
    return this.#open();
  }

  async checkBalance(id: string, n: number): Promise<boolean> {
    await this.#expectBalance(id, n);
    return true;
  }
}

/** Aggregates and raw SQLite in the same object: commands per second, the raw-insert floor, cold loads. */
export class CommandBench extends DurableObject<Env> {
  readonly #store: EventStore;
  readonly #host: AccountHost;
  readonly #deposit: ServiceHandler;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Env);
    this.#store = createSqlEventStore(ctx.storage);
    this.#host = createAggregateHost(account, { store: this.#store });
    this.#deposit = this.#host.on("deposit");
    ctx.storage.sql.exec(RAW_TABLE);
    ctx.storage.sql.exec(FLOOR_TABLES);
  }

  /** The empty call: the round trip every batch call pays on top of its work. */
  noop(): Timed {
    return { ms: 0 };
  }

  /**
   * Spins the CPU for `iterations` (bounded by count, not by the clock under test) and answers how far
   * `performance.now()` and `Date.now()` moved meanwhile inside the object.
   */
  clockProbe(iterations: number): { perf: number; date: number; checksum: number } {
    const perf = now();
    const date = Date.now();
    let checksum = 0;
    for (let i = 0; i < iterations; i++) checksum = (checksum + (i % 7)) | 0;
    return { perf: now() - perf, date: Date.now() - date, checksum };
  }

  /** A new account (untimed), then `n` deposits through the host's `on("deposit")` service, each awaited. */
  async deposits(n: number): Promise<Timed & { version: number }> {
    const id = `acc-${crypto.randomUUID()}`;
    await this.#host.onNew("open")(Message.new("open", { rawRequest: { id, owner: "Ada" } }));
    const start = now();
    for (let i = 0; i < n; i++) {
      const reply = await this.#deposit(deposit(id));
      if (!isOk(reply)) throw new Error(`deposit ${i}: ${JSON.stringify(reply)}`);
    }
    const ms = now() - start;
    const state = await this.#host.getState(id);
    if (state?.version !== n || state.state.balance !== n)
      throw new Error(`after ${n} deposits: ${JSON.stringify(state)}`);
    this.#host.unload(id);
    return { ms, version: state.version };
  }

  /** `n` appends of one event each straight to the SQL event store (no host), each awaited. */
  async appends(n: number): Promise<Timed> {
    const stream = `direct-${crypto.randomUUID()}`;
    const [data, metadata] = depositSample(this.ctx.storage);
    const event = JSON.parse(data) as unknown;
    const meta = JSON.parse(metadata) as Record<string, unknown>;
    const start = now();
    for (let i = 0; i < n; i++) {
      const result = await this.#store.append(stream, [event], { expectedVersion: i - 1, metadata: meta });
      if (!result.ok) throw new Error(`append ${i}: ${JSON.stringify(result)}`);
    }
    return { ms: now() - start };
  }

  /** The baseline in this object (see `rawInsertLoop`); `inTransaction` wraps each insert in `transactionSync`. */
  async rawInserts(n: number, inTransaction: boolean): Promise<Timed & { bytes: number }> {
    return rawInsertLoop(this.ctx.storage, n, depositSample(this.ctx.storage), inTransaction);
  }

  /** The store's append written by hand (see `floorLoop`). */
  async storeStatement(n: number): Promise<Timed> {
    return floorLoop(this.ctx.storage, n);
  }

  /**
   * One stream of `events` events ending right after a host snapshot: an open, deposits appended in batches
   * of 1,000, then the last 999 (or all) deposits through a host with the snapshot policy, which writes
   * its snapshot at version `events - 1` with the last 1,000 message ids (the idempotency window).
   */
  async seed(id: string, events: number): Promise<Timed & { snapshotBytes: number; batched: number }> {
    const start = now();
    const stream = `account-${id}`;
    await this.#host.onNew("open")(Message.new("open", { rawRequest: { id, owner: "Ada" } }));
    this.#host.unload(id);
    const byHost = Math.min(events - 1, POLICY.every - 1);
    const batched = events - 1 - byHost;
    const metadata = JSON.parse(this.#metadataOf(stream)) as Record<string, unknown>;
    for (let version = 0; version < batched; version += SEED_BATCH) {
      const count = Math.min(SEED_BATCH, batched - version);
      const batch = Array.from({ length: count }, () => ({ type: "Deposited", amount: 1 }));
      const result = await this.#store.append(stream, batch, {
        expectedVersion: version,
        metadata: { ...metadata, messageId: crypto.randomUUID(), causationId: crypto.randomUUID() },
      });
      if (!result.ok) throw new Error(`seed append at ${version}: ${JSON.stringify(result)}`);
    }
    await this.#depositThroughSnapshotHost(id, byHost);
    const snapshot = this.ctx.storage.sql
      .exec("SELECT version, length(state) AS bytes FROM x3m_snapshots WHERE stream = ?", stream)
      .toArray()[0];
    if (snapshot?.version !== events - 1) throw new Error(`no snapshot at ${events - 1}: ${JSON.stringify(snapshot)}`);
    return { ms: now() - start, snapshotBytes: Number(snapshot.bytes), batched };
  }

  /** `n` more deposits on a seeded stream, through a host (the snapshot stays where it was unless one is due). */
  async more(id: string, n: number): Promise<Timed> {
    const start = now();
    await this.#depositThroughSnapshotHost(id, n);
    return { ms: now() - start };
  }

  async #depositThroughSnapshotHost(id: string, n: number): Promise<void> {
    const host: AccountHost = createAggregateHost(account, { store: this.#store, snapshots: POLICY });
    const service = host.on("deposit");
    for (let i = 0; i < n; i++) {
      const reply = await service(deposit(id));
      if (!isOk(reply)) throw new Error(`seed deposit ${i}: ${JSON.stringify(reply)}`);
    }
    host.close();
  }

  #metadataOf(stream: string): string {
    const row = this.ctx.storage.sql
      .exec("SELECT metadata FROM x3m_events WHERE stream = ? ORDER BY version DESC LIMIT 1", stream)
      .toArray()[0];
    return String(row?.metadata ?? "{}");
  }

  /** The floor of a cold load: one `SELECT data … ORDER BY version` of the stream, each event parsed and applied. */
  async rawLoad(id: string, reps: number, expected: number): Promise<Timed> {
    const { sql } = this.ctx.storage;
    const start = now();
    for (let i = 0; i < reps; i++) {
      let state = typeof account.initialState === "function" ? account.initialState() : account.initialState;
      let version = -1;
      for (const row of sql.exec(
        "SELECT version, data FROM x3m_events WHERE stream = ? ORDER BY version",
        `account-${id}`,
      )) {
        state = account.apply(state, JSON.parse(String(row.data)));
        version = Number(row.version);
      }
      if (version !== expected - 1 || state.balance !== expected - 1) throw new Error(`raw load of ${expected} events`);
    }
    return { ms: (now() - start) / reps };
  }

  /** `reps` cold loads: each a `getState` on a fresh host (with or without the snapshot policy); ms per load. */
  async coldLoad(id: string, snapshots: boolean, reps: number, expected: number): Promise<Timed> {
    const start = now();
    for (let i = 0; i < reps; i++) {
      const host: AccountHost = createAggregateHost(
        account,
        snapshots ? { store: this.#store, snapshots: POLICY } : { store: this.#store },
      );
      const loaded = await host.getState(id);
      if (loaded?.version !== expected - 1 || loaded.state.balance !== expected - 1) {
        throw new Error(`cold load of ${expected} events: ${JSON.stringify(loaded)}`);
      }
    }
    return { ms: (now() - start) / reps };
  }
}

/** What a scheduling object reports: how many were scheduled and delivered, and the times of each phase. */
export interface ScheduleReport {
  readonly scheduled: number;
  readonly delivered: number;
  readonly distinct: number;
  readonly duplicates: number;
  /** Delivered ids that were never scheduled here (must be 0). */
  readonly strangers: number;
  /** Alarms still stored, and dead letters. */
  readonly stored: number;
  readonly deadLetters: number;
  /** Times of the `alarm()` invocations: from entering the handler to its end. */
  readonly alarms: number;
  readonly alarmMs: number;
  /** From the end of scheduling to the first `alarm()` call. */
  readonly alarmDelayMs: number;
  readonly done: boolean;
}

/** Counts deliveries per message id and resolves `waiters` once `scheduled` of them arrived and the alarm ended. */
abstract class CountingObject extends DurableObject<Env> {
  protected readonly deliveries = new Map<string, number>();
  protected readonly scheduledIds = new Set<string>();
  protected scheduledAt = 0;
  protected alarmCalls = 0;
  protected alarmMs = 0;
  protected firstAlarmAt = 0;
  #alarmRunning = false;
  #waiters: (() => void)[] = [];

  protected count(id: string): void {
    this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
  }

  protected async timedAlarm(run: () => Promise<void>): Promise<void> {
    const start = now();
    if (this.alarmCalls++ === 0) this.firstAlarmAt = start;
    this.#alarmRunning = true;
    try {
      await run();
    } finally {
      this.alarmMs += now() - start;
      this.#alarmRunning = false;
      if (this.#complete()) for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  #complete(): boolean {
    let delivered = 0;
    for (const n of this.deliveries.values()) delivered += n;
    return !this.#alarmRunning && this.scheduledIds.size > 0 && delivered >= this.scheduledIds.size;
  }

  /** Resolves once every scheduled message was delivered and the alarm handler returned, or after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<ScheduleReport> {
    if (!this.#complete()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.report();
  }

  protected abstract storedCounts(): Promise<{ stored: number; deadLetters: number }>;

  async report(): Promise<ScheduleReport> {
    let delivered = 0;
    let strangers = 0;
    for (const [id, n] of this.deliveries) {
      delivered += n;
      if (!this.scheduledIds.has(id)) strangers++;
    }
    return {
      scheduled: this.scheduledIds.size,
      delivered,
      distinct: this.deliveries.size,
      duplicates: delivered - this.deliveries.size,
      strangers,
      ...(await this.storedCounts()),
      alarms: this.alarmCalls,
      alarmMs: this.alarmMs,
      alarmDelayMs: this.alarmCalls > 0 ? this.firstAlarmAt - this.scheduledAt : 0,
      done: this.#complete(),
    };
  }
}

/** The core scheduler on the object's SQLite (`createSqlAlarmStore`) and its one alarm (`createAlarmClock`). */
export class SchedulerBench extends CountingObject {
  readonly #clock: AlarmClock;
  readonly #scheduler: Scheduler;
  readonly #store: AlarmStore;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Env);
    this.#clock = createAlarmClock(ctx.storage);
    this.#store = createSqlAlarmStore(ctx.storage);
    const dispatcher = {
      dispatch: async (message: Message) => {
        this.count(message.id);
        return message.ok();
      },
    };
    this.#scheduler = createScheduler({ dispatcher, store: this.#store, clock: this.#clock.lane("scheduler") });
    // As in defineSchedulerObject: nothing is served before the window is loaded and armed.
    void ctx.blockConcurrencyWhile(() => this.#scheduler.start());
  }

  /** Schedules `n` messages due now through `scheduler.schedule`, each awaited; the alarm delivers them. */
  async schedule(n: number): Promise<Timed> {
    const messages = Array.from({ length: n }, (_, i) => Message.new("remind", { rawRequest: { n: i } }));
    for (const message of messages) this.scheduledIds.add(message.id);
    const start = now();
    for (const message of messages) await this.#scheduler.schedule(message, { inMs: 0 });
    this.scheduledAt = now();
    return { ms: this.scheduledAt - start };
  }

  protected async storedCounts() {
    return { stored: await this.#store.count(), deadLetters: (await this.#store.listDeadLetters()).length };
  }

  /** As in defineSchedulerObject. */
  override async alarm(): Promise<void> {
    await this.timedAlarm(() => runSchedulerAlarm(this.#clock, this.#scheduler));
  }
}

/**
 * The platform floor for durable scheduling: one plain row per message (the same JSON the scheduler
 * stores), one `setAlarm`; the alarm reads the due rows in order, delivers each and deletes its row.
 */
export class RawAlarmBench extends CountingObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS raw_alarms (id TEXT PRIMARY KEY, dispatch_at INTEGER NOT NULL, alarm TEXT NOT NULL)",
    );
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS raw_alarms_due ON raw_alarms (dispatch_at, id)");
  }

  async schedule(n: number): Promise<Timed> {
    const messages = Array.from({ length: n }, (_, i) => Message.new("remind", { rawRequest: { n: i } }));
    for (const message of messages) this.scheduledIds.add(message.id);
    const { sql } = this.ctx.storage;
    const save = async (message: Message) => {
      const at = Date.now();
      const alarm = { id: message.id, message: message.toJSON(), dispatchAt: at, scheduledFor: at, attempts: 0 };
      sql.exec("INSERT INTO raw_alarms (id, dispatch_at, alarm) VALUES (?, ?, ?)", alarm.id, at, JSON.stringify(alarm));
    };
    const start = now();
    for (const message of messages) await save(message);
    await this.ctx.storage.setAlarm(Date.now() + 1); // once: every row is due now
    this.scheduledAt = now();
    return { ms: this.scheduledAt - start };
  }

  protected async storedCounts() {
    const row = this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM raw_alarms").toArray()[0];
    return { stored: Number(row?.n ?? 0), deadLetters: 0 };
  }

  override async alarm(): Promise<void> {
    await this.timedAlarm(async () => {
      const { sql } = this.ctx.storage;
      const due = sql.exec("SELECT alarm FROM raw_alarms WHERE dispatch_at <= ? ORDER BY dispatch_at, id", Date.now());
      for (const row of due.toArray()) {
        const alarm = JSON.parse(String(row.alarm)) as { id: string; message: unknown };
        const message = Message.parse(alarm.message as MessageData);
        this.count(message.id);
        sql.exec("DELETE FROM raw_alarms WHERE id = ?", alarm.id);
      }
    });
  }
}

type AccountStub = DurableObjectStub<AccountObjectBench>;

/**
 * `n` RPC calls from this Worker to one aggregate object, each awaited, timed here (the clock advances
 * across each call's I/O): `raw` one raw insert per call, `execute` one deposit per call as the
 * Worker's forwarding service sends it, `client` one pushed deposit per `runClientCommands` call.
 */
async function rpcLoop(stub: AccountStub, kind: "raw" | "execute" | "client", n: number): Promise<Timed> {
  if (kind === "raw") {
    await stub.rawInsertOnce(-1); // the sample is read once, before the loop
    const start = now();
    for (let i = 0; i < n; i++) await stub.rawInsertOnce(i);
    return { ms: now() - start };
  }
  const id = await stub.openAccount();
  let ms: number;
  if (kind === "execute") {
    const calls = Array.from({ length: n }, () => depositCall(id));
    const start = now();
    for (const call of calls) await stub.execute(call);
    ms = now() - start;
  } else {
    const clientId = `client-${crypto.randomUUID()}`;
    const commands = Array.from({ length: n }, (_, i): ClientCommandData[] => [
      {
        client: { clientId, seq: i + 1 },
        route: DEPOSIT_ROUTE,
        envelope: deposit(id).prepareAggregateId("id").toJSON(),
      },
    ]);
    const start = now();
    for (const batch of commands) await stub.runClientCommands(id, batch);
    ms = now() - start;
  }
  await stub.checkBalance(id, n);
  return { ms };
}

/**
 * `POST /call` with `{ binding, object, method, args }`: calls the object's method over RPC, answers its
 * result. `POST /rpc-loop` with `{ object, kind, n }`: see `rpcLoop`.
 */
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (request.method === "POST" && path === "/rpc-loop") {
      const { object, kind, n } = (await request.json()) as {
        object: string;
        kind: "raw" | "execute" | "client";
        n: number;
      };
      const stub = env.ACCOUNTS.get(env.ACCOUNTS.idFromName(object)) as AccountStub;
      try {
        return Response.json(await rpcLoop(stub, kind, n));
      } catch (error) {
        return Response.json(
          { error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
          { status: 500 },
        );
      }
    }
    if (request.method !== "POST" || path !== "/call") {
      return new Response("x3m-system Durable Objects benchmark worker: POST /call or /rpc-loop", { status: 404 });
    }
    const { binding, object, method, args } = (await request.json()) as {
      binding: keyof Env;
      object: string;
      method: string;
      args: unknown[];
    };
    const namespace = env[binding];
    const stub = namespace.get(namespace.idFromName(object)) as unknown as Record<
      string,
      (...rest: unknown[]) => Promise<unknown>
    >;
    try {
      const call = stub[method];
      if (!call) throw new Error(`no method ${method}`);
      return Response.json(await call(...args));
    } catch (error) {
      return Response.json(
        { error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
        { status: 500 },
      );
    }
  },
} satisfies ExportedHandler<Env>;
