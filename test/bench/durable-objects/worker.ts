// The Durable Objects benchmark's Worker (`npm run bench` starts it with `wrangler dev`; not the playground).
// Every case runs a whole batch inside one object and times it there; the Worker only forwards a
// benchmark call to the object named in it and answers its result as JSON.
import { DurableObject } from "cloudflare:workers";
// The adapter's modules one by one: the benchmark needs neither the edge Worker nor sync.
import { type AlarmClock, createAlarmClock } from "../../../adapters/durable-objects/alarm-clock.ts";
import { runSchedulerAlarm } from "../../../adapters/durable-objects/scheduler-object.ts";
import { createSqlAlarmStore } from "../../../adapters/durable-objects/sql-alarm-store.ts";
import { createSqlEventStore } from "../../../adapters/durable-objects/sql-event-store.ts";
import {
  type AggregateHost,
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

/** Aggregates and raw SQLite in the same object: commands per second, the raw-insert floor, cold loads. */
export class CommandBench extends DurableObject<Env> {
  readonly #store: EventStore;
  readonly #host: AccountHost;
  readonly #deposit: ServiceHandler;
  #streams = 0;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Env);
    this.#store = createSqlEventStore(ctx.storage);
    this.#host = createAggregateHost(account, { store: this.#store });
    this.#deposit = this.#host.on("deposit");
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS raw_events (
         position INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL,
         type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL)`,
    );
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
    const id = `acc-${this.#streams++}`;
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
    const stream = `direct-${this.#streams++}`;
    const [data, metadata] = this.#sample();
    const event = JSON.parse(data) as unknown;
    const meta = JSON.parse(metadata) as Record<string, unknown>;
    const start = now();
    for (let i = 0; i < n; i++) {
      const result = await this.#store.append(stream, [event], { expectedVersion: i - 1, metadata: meta });
      if (!result.ok) throw new Error(`append ${i}: ${JSON.stringify(result)}`);
    }
    return { ms: now() - start };
  }

  /**
   * The platform floor: `n` plain `INSERT`s of a deposit's stored data and metadata text (the exact strings
   * the host wrote for one) into a table of the same shape, one statement per awaited call. `inTransaction`
   * wraps each in `transactionSync`, as every event-store append is.
   */
  async rawInserts(n: number, inTransaction: boolean): Promise<Timed & { bytes: number }> {
    const [data, metadata] = this.#sample();
    const { sql } = this.ctx.storage;
    sql.exec("DELETE FROM raw_events");
    const insert = (i: number) =>
      sql.exec(
        "INSERT INTO raw_events (stream, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
        "raw",
        i,
        "Deposited",
        data,
        metadata,
        Date.now(),
      );
    // An async call per insert, awaited, as every host command and store append is.
    const call = inTransaction
      ? async (i: number) => this.ctx.storage.transactionSync(() => insert(i))
      : async (i: number) => insert(i);
    const start = now();
    for (let i = 0; i < n; i++) await call(i);
    return { ms: now() - start, bytes: data.length + metadata.length };
  }

  /**
   * The event store's append written by hand: its four statements (read the stream row, `MAX(position)`,
   * insert the event, upsert the stream row) in one `transactionSync`, on the same tables, `n` awaited calls.
   */
  async rawAppendStatements(n: number): Promise<Timed> {
    const [data, metadata] = this.#sample();
    const stream = `raw-${this.#streams++}`;
    const { sql } = this.ctx.storage;
    const append = async (version: number) =>
      this.ctx.storage.transactionSync(() => {
        sql.exec("SELECT version, epoch FROM x3m_streams WHERE stream = ?", stream).toArray();
        sql.exec("SELECT MAX(position) AS last FROM x3m_events").toArray();
        sql.exec(
          "INSERT INTO x3m_events (stream, epoch, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
          stream,
          0,
          version,
          "Deposited",
          data,
          metadata,
          Date.now(),
        );
        sql.exec(
          "INSERT INTO x3m_streams (stream, version, epoch) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET version = excluded.version",
          stream,
          version,
          0,
        );
      });
    const start = now();
    for (let i = 0; i < n; i++) await append(i);
    return { ms: now() - start };
  }

  /** A deposit event's stored `data` and `metadata` text, as the host wrote them. */
  #sample(): [string, string] {
    const row = this.ctx.storage.sql
      .exec("SELECT data, metadata FROM x3m_events WHERE type = 'Deposited' ORDER BY position DESC LIMIT 1")
      .toArray()[0];
    if (!row) throw new Error("run deposits first: no deposit stored yet");
    return [String(row.data), String(row.metadata)];
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

/** `POST /call` with `{ binding, object, method, args }`: calls the object's method over RPC, answers its result. */
export default {
  async fetch(request, env) {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/call") {
      return new Response("x3m-system Durable Objects benchmark worker: POST /call", { status: 404 });
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
