import { type Clock, MAX_TIMER_DELAY_MS, systemClock } from "../clock.ts";
import { SdkClientError, SdkErrorCode } from "../errors.ts";
import type { EventSource, RecordedEvent } from "../event-store/event-store.ts";
import type { CheckpointApply, CheckpointStore, CommitResult } from "./checkpoint-store.ts";

/**
 * What a projection does with events, apart from where they come from: the part `projectorSpec` tests.
 *
 * @example
 * const balances: Projection = {
 *   handles: ["Deposited"],
 *   handle: (event) => { totals.set(event.stream, (totals.get(event.stream) ?? 0) + (event.data as { amount: number }).amount); },
 *   truncate: () => totals.clear(),
 * };
 */
export interface Projection<TTx = undefined> {
  /** The event types `handle` wants; others are skipped (reported once per type) but still advance the checkpoint. Omitted = all. */
  readonly handles?: readonly string[];
  /** Applies one event to the read model, writing through `tx`, the checkpoint store's transaction. */
  handle(event: RecordedEvent, tx: TTx): void | Promise<void>;
  /** Empties the read model for `rebuild`, in the same transaction as the checkpoint's reset. */
  truncate?(tx: TTx): void | Promise<void>;
}

/** `defineProjector`'s options: a projection, where its events come from and where its position is kept. */
export interface ProjectorOptions<TTx = undefined> extends Projection<TTx> {
  /** The projector's name: its checkpoint's key. */
  readonly name: string;
  /** Any log with 1-based gapless positions (an `EventStore`, or a remote reader). */
  readonly source: EventSource;
  readonly checkpoints: CheckpointStore<TTx>;
  /**
   * `false`: `start()` resolves at once and the projector catches up in the background after
   * `recoveryDelayMs` + jitter (the original's `handle_continue`). `true`: `start()` resolves only once
   * caught up, for read models other code depends on at boot. @default false
   */
  readonly dependentHydration?: boolean;
  /** Wait before re-reading after a missed event (and before the first catch-up). @default 100 */
  readonly recoveryDelayMs?: number;
  /** Up to this much random extra wait, so projectors that start or fail together spread out. @default 100 */
  readonly recoveryJitterMs?: number;
  /** Cap of the doubling wait between retries after a failure (jitter comes on top). @default 30_000 */
  readonly maxRecoveryDelayMs?: number;
  /** Events per `readAll` page while catching up. @default 500 */
  readonly batchSize?: number;
  /**
   * Re-read the source this often when idle: for sources without `subscribe`, or whose subscription
   * can drop the last event. 0 = never (a Durable Object with a pending timer cannot hibernate). @default 0
   */
  readonly pollIntervalMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Source of the jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Receives what the original logs; never called with the console. A throwing hook is ignored. */
  readonly onLog?: (entry: ProjectorLogEntry) => void;
}

/** The kinds of `ProjectorLogEntry`. */
export type ProjectorLogKind =
  /** A delivered event at or below the checkpoint: skipped (at-least-once delivery). */
  | "already_processed"
  /** An event past the next expected position: a re-read from the source is scheduled. */
  | "missed_event"
  /** The first event of a type not in `handles`: skipped, the checkpoint still moves. */
  | "unhandled_type"
  /** `handle` threw: the checkpoint did not move; retried later, never skipped. */
  | "handler_failed"
  /** The source's `readAll` failed: retried later. */
  | "read_failed"
  /** The checkpoint store failed on its own: retried later. */
  | "checkpoint_failed"
  /** The stored checkpoint was not where this projector left it (another instance, or a reset): continues from it. */
  | "checkpoint_mismatch";

/** One thing worth logging, for `onLog`. */
export interface ProjectorLogEntry {
  readonly projector: string;
  readonly kind: ProjectorLogKind;
  readonly level: "debug" | "warn" | "error";
  readonly message: string;
  /** The event's position; for `read_failed` the position read after; for `checkpoint_mismatch` the stored one. */
  readonly position: number;
  /** The projector's checkpoint when this happened. */
  readonly checkpoint: number;
  readonly type?: string;
  readonly error?: unknown;
  /** Consecutive failures so far (failures only). */
  readonly attempt?: number;
  /** When the scheduled re-read runs. */
  readonly retryInMs?: number;
}

/** `"catching_up"`: reading the source; `"live"`: caught up; `"retrying"`: a failure waits for its retry (see `lastError`). */
export type ProjectorStatus = "stopped" | "catching_up" | "live" | "retrying";

/** A running projection of a log into a read model. */
export interface Projector {
  readonly name: string;
  /** Loads the checkpoint, subscribes to the source and catches up (see `dependentHydration`). */
  start(): Promise<void>;
  /** Cancels timers and the subscription; an in-flight `handle` finishes, nothing else runs. Pending `waitFor`s resolve false. */
  stop(): void;
  /** Feeds events from a bus or subscription: applied in position order, duplicates skipped, a gap re-read from the source. */
  push(events: readonly RecordedEvent[]): void;
  /** The checkpoint: the last position applied (0 = none). */
  position(): number;
  /** True once the checkpoint reaches `position`; false after `timeoutMs` or on `stop`. Never throws, never undoes anything. */
  waitFor(position: number, timeoutMs: number): Promise<boolean>;
  /** Truncates the read model and resets the checkpoint in one `reset`, then re-projects everything; resolves once caught up. */
  rebuild(): Promise<void>;
  readonly status: ProjectorStatus;
  /** The last failure, cleared once caught up again. */
  readonly lastError: unknown;
}

/**
 * The original's `MissedEventError`: the source itself returned an event past the next expected
 * position (its log has a gap). Recorded as `lastError` while the projector retries.
 */
export class MissedEventError extends Error {
  override readonly name = "MissedEventError";
  readonly position: number;
  readonly expected: number;

  constructor(projector: string, position: number, expected: number) {
    super(`projector "${projector}" received event ${position} while expecting ${expected}`);
    this.position = position;
    this.expected = expected;
  }
}

type Outcome = "applied" | "gap" | "mismatch" | "failed" | "stopped";
type Timer = { readonly kind: "recovery" | "poll"; readonly cancel: () => void };
type Waiter = { readonly position: number; readonly settle: (reached: boolean) => void };

function delayOption(value: number | undefined, fallback: number, what: string): number {
  const delay = value ?? fallback;
  if (!Number.isFinite(delay) || delay < 0 || delay > MAX_TIMER_DELAY_MS)
    invalid(`${what} must be between 0 and ${MAX_TIMER_DELAY_MS}`);
  return delay;
}

function invalid(message: string): never {
  throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `projector: ${message}`);
}

/**
 * Projects an event log into a read model, strictly in position order: duplicates are skipped, a gap
 * makes it re-read the source after a delay with jitter, and each event's read-model write and
 * checkpoint move are committed together by the checkpoint store.
 *
 * @example
 * import { createMemoryCheckpointStore, createMemoryEventStore, defineProjector } from "x3m-system";
 * const store = createMemoryEventStore();
 * const totals = new Map<string, number>();
 * const projector = defineProjector({
 *   name: "totals",
 *   source: store,
 *   checkpoints: createMemoryCheckpointStore(),
 *   handles: ["Deposited"],
 *   handle: (event) => { totals.set(event.stream, (totals.get(event.stream) ?? 0) + (event.data as { amount: number }).amount); },
 *   truncate: () => totals.clear(),
 * });
 * await projector.start();
 * await store.append("acc-1", [{ type: "Deposited", amount: 5 }]);
 * await projector.waitFor(await store.lastPosition(), 1_000); // true: totals.get("acc-1") === 5
 */
export function defineProjector<TTx = undefined>(options: ProjectorOptions<TTx>): Projector {
  return createProjector(options).projector;
}

/**
 * @internal A projector, and its replay from position 0 once its checkpoint was reset by someone else
 * (a sharded projector resets every shard's checkpoint in one transaction, then replays each shard).
 */
export function createProjector<TTx = undefined>(
  options: ProjectorOptions<TTx>,
): { readonly projector: Projector; replayAfterReset(): Promise<void> } {
  const { name, source, checkpoints, clock = systemClock, random = Math.random } = options;
  if (typeof name !== "string" || name === "") invalid("name must be a non-empty string");
  if (typeof options.handle !== "function") invalid(`"${name}": handle must be a function`);
  const batchSize = options.batchSize ?? 500;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) invalid(`"${name}": batchSize must be a positive integer`);
  const recoveryDelayMs = delayOption(options.recoveryDelayMs, 100, "recoveryDelayMs");
  const recoveryJitterMs = delayOption(options.recoveryJitterMs, 100, "recoveryJitterMs");
  const maxRecoveryDelayMs = delayOption(options.maxRecoveryDelayMs, 30_000, "maxRecoveryDelayMs");
  const pollIntervalMs = delayOption(options.pollIntervalMs, 0, "pollIntervalMs");
  const wanted = options.handles && new Set(options.handles);

  /** The stored checkpoint, as this projector last saw it. */
  let committed = 0;
  /** `committed` plus in-order unhandled events not committed yet: they ride along with the next commit. */
  let seen = 0;
  let status: ProjectorStatus = "stopped";
  let lastError: unknown;
  /** Bumped by `start`/`stop`: queued work and timers of an older generation do nothing. */
  let generation = 0;
  let failures = 0;
  let queue: Promise<unknown> = Promise.resolve();
  let timer: Timer | undefined;
  let unsubscribe: (() => void) | undefined;
  const reportedTypes = new Set<string>();
  const waiters = new Set<Waiter>();

  const log = (entry: Omit<ProjectorLogEntry, "projector" | "checkpoint" | "message">, text: string) => {
    try {
      options.onLog?.({ projector: name, checkpoint: committed, message: `projector "${name}": ${text}`, ...entry });
    } catch {
      // A broken log hook must not stop the projection.
    }
  };

  // Everything that reads or moves the position runs one task at a time, so `handle` never overlaps itself.
  const serialize = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task);
    queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  const jittered = (baseMs: number) =>
    Math.min(baseMs + Math.floor(random() * (recoveryJitterMs + 1)), MAX_TIMER_DELAY_MS);

  const setTimer = (kind: Timer["kind"], delayMs: number) => {
    timer?.cancel();
    const gen = generation;
    const cancel = clock.setTimeout(() => {
      timer = undefined;
      if (gen === generation) void serialize(() => catchUp(gen));
    }, delayMs);
    timer = { kind, cancel };
  };

  const moveTo = (position: number) => {
    committed = position;
    seen = position;
    for (const waiter of waiters) if (waiter.position <= position) waiter.settle(true);
  };

  /** Records a failure and schedules the re-read with a doubling delay: the event is retried, never skipped. */
  const fail = (gen: number, kind: ProjectorLogKind, position: number, error: unknown, text: string, type?: string) => {
    seen = committed;
    if (gen !== generation) return;
    failures++;
    lastError = error;
    status = "retrying";
    const retryInMs = jittered(Math.min(recoveryDelayMs * 2 ** (failures - 1), maxRecoveryDelayMs));
    setTimer("recovery", retryInMs);
    log(
      { kind, level: "error", position, type, error, attempt: failures, retryInMs },
      `${text}; retry in ${retryInMs} ms`,
    );
  };

  /** One recovery at a time: while one is scheduled, further gaps wait for it. */
  const recoverSoon = (gen: number): number | undefined => {
    if (gen !== generation || timer?.kind === "recovery") return undefined;
    const retryInMs = jittered(recoveryDelayMs);
    setTimer("recovery", retryInMs);
    if (status === "live") status = "catching_up";
    return retryInMs;
  };

  /** Commits the checkpoint to `next`, applying `event` in the same step (none: only skipped events). */
  const commitTo = async (gen: number, next: number, event?: RecordedEvent): Promise<Outcome> => {
    const expected = committed;
    let handlerError: { error: unknown } | undefined;
    const failed = (error: unknown): never => {
      handlerError = { error };
      throw error;
    };
    // Synchronous when `handle` is: an IndexedDB transaction must not see a needless await.
    const apply: CheckpointApply<TTx> = (tx) => {
      if (!event) return;
      try {
        const pending = options.handle(event, tx);
        return pending instanceof Promise ? pending.catch(failed) : pending;
      } catch (error) {
        failed(error);
      }
    };
    let result: CommitResult;
    try {
      result = await checkpoints.commit(name, { expected, next }, apply);
    } catch (error) {
      if (handlerError && event) {
        fail(gen, "handler_failed", next, handlerError.error, `handle failed on ${event.type} at ${next}`, event.type);
      } else fail(gen, "checkpoint_failed", next, error, `checkpoint store failed committing ${expected} → ${next}`);
      return "failed";
    }
    if (result.ok) {
      moveTo(next);
      return "applied";
    }
    if (result.actual === expected) {
      const error = new Error(`checkpoint store refused ${expected} → ${next} while reporting ${expected}`);
      fail(gen, "checkpoint_failed", next, error, error.message);
      return "failed";
    }
    moveTo(result.actual);
    log(
      { kind: "checkpoint_mismatch", level: "warn", position: result.actual },
      `checkpoint is ${result.actual}, not ${expected} (${result.reason}): continuing from it`,
    );
    return "mismatch";
  };

  const applyEvents = async (
    gen: number,
    events: readonly RecordedEvent[],
    onGap: (event: RecordedEvent, expected: number) => void,
  ): Promise<Outcome> => {
    for (const event of events) {
      if (gen !== generation) return "stopped";
      if (event.position <= seen) {
        log(
          { kind: "already_processed", level: "debug", position: event.position, type: event.type },
          `skipped event ${event.position}: already processed`,
        );
        continue;
      }
      if (event.position !== seen + 1) {
        const expected = seen + 1;
        seen = committed;
        onGap(event, expected);
        return "gap";
      }
      if (wanted && !wanted.has(event.type)) {
        if (!reportedTypes.has(event.type)) {
          reportedTypes.add(event.type);
          log(
            { kind: "unhandled_type", level: "warn", position: event.position, type: event.type },
            `skips events of type ${event.type}: not in handles`,
          );
        }
        seen = event.position;
        continue;
      }
      const outcome = await commitTo(gen, event.position, event);
      if (outcome !== "applied") return outcome;
    }
    return seen > committed && gen === generation ? commitTo(gen, seen) : "applied";
  };

  /** Reads the source from the checkpoint, page by page, until a short page; true when caught up. */
  const catchUp = async (gen: number): Promise<boolean> => {
    for (;;) {
      if (gen !== generation) return false;
      const after = committed;
      let page: RecordedEvent[];
      try {
        page = await source.readAll({ after, limit: batchSize });
      } catch (error) {
        fail(gen, "read_failed", after, error, `reading after ${after} failed`);
        return false;
      }
      const outcome = await applyEvents(gen, page, (event, expected) => {
        const error = new MissedEventError(name, event.position, expected);
        fail(gen, "missed_event", event.position, error, error.message);
      });
      // Another instance moved the checkpoint: read on from where it is.
      if (outcome === "mismatch") continue;
      if (outcome !== "applied") return false;
      // A short page is the end of the log; so is a page of nothing new (a source ignoring `after`).
      if (page.length < batchSize || committed === after) break;
    }
    failures = 0;
    lastError = undefined;
    status = "live";
    // A recovery asked for before this read started is covered by it.
    if (timer?.kind === "recovery") {
      timer.cancel();
      timer = undefined;
    }
    if (pollIntervalMs > 0 && !timer) setTimer("poll", pollIntervalMs);
    return true;
  };

  const stop = () => {
    if (status === "stopped") return;
    generation++;
    status = "stopped";
    timer?.cancel();
    timer = undefined;
    unsubscribe?.();
    unsubscribe = undefined;
    for (const waiter of waiters) waiter.settle(false);
  };

  const push = (events: readonly RecordedEvent[]) => {
    if (status === "stopped" || events.length === 0) return;
    const gen = generation;
    const ordered = [...events].sort((a, b) => a.position - b.position);
    void serialize(async () => {
      // While retrying, the scheduled re-read delivers these from the source, after the backoff.
      if (gen !== generation || status === "retrying") return;
      const outcome = await applyEvents(gen, ordered, (event, expected) => {
        const retryInMs = recoverSoon(gen);
        if (retryInMs === undefined) return;
        log(
          { kind: "missed_event", level: "warn", position: event.position, type: event.type, retryInMs },
          `received event ${event.position} while expecting ${expected}: re-reading the source in ${retryInMs} ms`,
        );
      });
      if (outcome === "mismatch") recoverSoon(gen);
    });
  };

  /** Reads again from position 0, after resetting the checkpoint (and the read model) when `reset`. */
  const replay = async (reset: boolean) => {
    const gen = generation;
    const caughtUp = await serialize(async () => {
      if (reset) await checkpoints.reset(name, options.truncate && ((tx) => options.truncate?.(tx)));
      committed = 0;
      seen = 0;
      if (status === "stopped" || gen !== generation) return true;
      status = "catching_up";
      return catchUp(gen);
    });
    if (!caughtUp && gen === generation) throw lastError;
  };

  const projector: Projector = {
    name,
    start: async () => {
      if (status !== "stopped") return;
      const gen = ++generation;
      status = "catching_up";
      try {
        const stored = await serialize(() => checkpoints.load(name));
        if (gen === generation) moveTo(stored);
      } catch (error) {
        if (gen === generation) stop();
        throw error;
      }
      if (gen !== generation) return;
      unsubscribe = source.subscribe?.(push);
      if (!options.dependentHydration) {
        setTimer("recovery", jittered(recoveryDelayMs));
        return;
      }
      if ((await serialize(() => catchUp(gen))) || gen !== generation) return;
      const error = lastError;
      stop();
      throw error;
    },
    stop,
    push,
    position: () => committed,
    waitFor: (position, timeoutMs) => {
      if (committed >= position) return Promise.resolve(true);
      if (status === "stopped") return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const cancel = clock.setTimeout(
          () => waiter.settle(false),
          Math.min(Math.max(0, timeoutMs || 0), MAX_TIMER_DELAY_MS),
        );
        const waiter: Waiter = {
          position,
          settle: (reached) => {
            waiters.delete(waiter);
            cancel();
            resolve(reached);
          },
        };
        waiters.add(waiter);
      });
    },
    rebuild: () => replay(true),
    get status() {
      return status;
    },
    get lastError() {
      return lastError;
    },
  };
  return { projector, replayAfterReset: () => replay(false) };
}
