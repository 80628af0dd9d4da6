import { type AnyAggregate, type Clock, Response, type Telemetry } from "../../src/index.ts";
import { coalesced } from "./coalesced.ts";
import type { OfflineStore } from "./offline-store.ts";
import { pullEvents, pushCommands, type SyncEndpoint, SyncRequestError } from "./sync-protocol.ts";

export interface SyncLoopOptions {
  readonly store: OfflineStore;
  readonly endpoint: SyncEndpoint;
  readonly aggregates: Readonly<Record<string, AnyAggregate>>;
  readonly clock: Clock;
  readonly locks: LockManager | undefined;
  readonly lockName: string;
  readonly connectivity: EventTarget | undefined;
  readonly batchSize: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly pullIntervalMs: number;
  readonly telemetry: Telemetry;
  /** Something in the store changed (`rang`: other tabs should look again too). */
  onChange(rang: boolean): void;
}

/** The sync loop's own view (what only this tab knows). */
export interface SyncLoop {
  local(): { online: boolean; leader: boolean; syncing: boolean };
  /** Asks for a round soon (a command was queued, a tab rang, the browser came online). */
  wake(): void;
  /** Runs one round now (this tab must be the leader). */
  round(): Promise<void>;
  setOnline(online: boolean | "auto"): void;
  /** The forced value (`undefined` = following the browser). */
  forced(): boolean | undefined;
  /** Stops: the round in flight ends first (at its next step), then the sync lock is let go. */
  close(): Promise<void>;
}

const PULL_PAGE = 500;

/**
 * The leader's loop: push the outbox in order, record each answer, pull the confirmed events of every
 * touched or tracked aggregate, and back off on failure. Only the tab holding the sync lock runs rounds.
 */
export function createSyncLoop(options: SyncLoopOptions): SyncLoop {
  const { store, clock } = options;
  let forced: boolean | undefined;
  let browserOnline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine ?? true;
  let leader = false;
  let syncing = false;
  let closed = false;
  let failures = 0;
  /** The edge refused the protocol: no retry until `setOnline` or an `online` event. */
  let fatal = false;
  let batchSize = options.batchSize;
  let cancelTimer: (() => void) | undefined;
  const stop = new AbortController();

  const online = () => forced ?? browserOnline;

  const schedule = (delayMs: number) => {
    cancelTimer?.();
    cancelTimer = clock.setTimeout(() => {
      cancelTimer = undefined;
      void runRound();
    }, delayMs);
  };

  const backoffDelay = () => {
    const base = Math.min(options.backoff.maxMs, options.backoff.initialMs * 2 ** Math.min(failures - 1, 20));
    // Jitter spreads the retries of many clients after an outage.
    return Math.round(base * (0.75 + Math.random() * 0.5));
  };

  /** Pushes the queue in order; `true` when the edge asked to retry part of it later. */
  const push = async (): Promise<boolean> => {
    for (;;) {
      if (closed) return false;
      const rows = await store.pendingRows(batchSize);
      if (rows.length === 0) return false;
      let outcomes: Awaited<ReturnType<typeof pushCommands>>;
      try {
        outcomes = await pushCommands(
          options.endpoint,
          rows.map((row) => row.command),
        );
      } catch (error) {
        if (error instanceof SyncRequestError && error.kind === "too_large") {
          if (batchSize > 1) {
            batchSize = Math.max(1, Math.floor(batchSize / 2));
            continue;
          }
          // One command alone is over the edge's limit: it can never be sent. Refuse it; the queue moves on.
          await store.rejectLocally(
            rows[0] as (typeof rows)[0],
            Response.validationError([{ message: "the command is larger than the edge accepts", path: [] }]),
          );
          options.onChange(true);
          continue;
        }
        throw error;
      }
      await store.recordOutcomes(rows, outcomes);
      options.onChange(true);
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === "rejected") {
          options.telemetry.emit(
            "sync_command_rejected",
            {},
            { messageId: rows[i]?.messageId, response: outcome.response },
          );
        }
      }
      // The edge could not reach an aggregate: the rest waits (in order) for the next round.
      if (outcomes.some((outcome) => outcome.status === "retry" || outcome.status === "not_processed")) return true;
      batchSize = options.batchSize;
    }
  };

  const pullStream = async (aggregate: string, aggregateId: string, stream: string) => {
    for (;;) {
      const after = await store.confirmedVersion(stream);
      const page = await pullEvents(options.endpoint, aggregate, aggregateId, after, PULL_PAGE);
      const fresh = page.events.filter((event) => event.version > after);
      const complete = (fresh[fresh.length - 1]?.version ?? after) >= page.version;
      if (fresh.length === 0 && !complete) return;
      if (!(await store.applyPull(stream, after, fresh, complete))) continue; // another tab pulled meanwhile
      if (fresh.length > 0) options.onChange(true);
      if (complete) return;
    }
  };

  /** Pulls every stream; one that fails does not keep the others from being pulled. Throws the first failure. */
  const pull = async () => {
    let failure: unknown;
    for (const { aggregate, aggregateId } of await store.streamsToPull()) {
      const definition = options.aggregates[aggregate];
      if (closed) break;
      if (!definition) continue;
      const stream = `${definition.name}-${aggregateId}`;
      try {
        await pullStream(aggregate, aggregateId, stream);
      } catch (error) {
        // An aggregate this user may not read (e.g. a creation the edge refused) is no longer tracked
        // once nothing of it is queued, so it does not fail every round from now on.
        if (error instanceof SyncRequestError && error.kind === "unauthorized") {
          await store.untrackIfIdle(aggregate, aggregateId, stream);
        }
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  };

  const round = async () => {
    if (!online()) return;
    syncing = true;
    options.onChange(false);
    try {
      let failure: unknown;
      let blocked = false;
      try {
        blocked = await push();
      } catch (error) {
        failure = error;
      }
      // Pull even after a push the edge answered in part: what it applied is confirmed either way.
      if (failure === undefined) await pull();
      if (failure !== undefined) throw failure;
      if (blocked) throw new SyncRequestError("transient", "the edge could not reach an aggregate; retrying later");
      failures = 0;
      await store.setStatus({ lastSyncAt: clock.now(), lastError: null });
      options.telemetry.emit("sync_completed", {}, {});
    } catch (error) {
      failures++;
      const message = (error as Error).message;
      options.telemetry.emit("sync_failed", {}, { error: message, failures });
      fatal = error instanceof SyncRequestError && error.kind === "fatal";
      try {
        await store.setStatus({ lastSyncAt: (await store.summary()).status.lastSyncAt, lastError: message });
      } catch {
        // The store itself failed (closed, quota): the status row waits for the next round.
      }
    } finally {
      syncing = false;
      options.onChange(true);
    }
  };

  /** Rounds never overlap: a wake during a round runs one more round after it (unless it failed). */
  const rounds = coalesced(round, () => !closed && failures === 0);
  let inFlight: Promise<void> | undefined;
  const runRound = async (): Promise<void> => {
    if (!leader || closed) return;
    inFlight = rounds();
    await inFlight;
    // The next round is scheduled once this one has ended, so a retry timer can never fire into a
    // round in flight (where it would be coalesced away and lost).
    if (closed) return;
    if (failures > 0) {
      if (!fatal) schedule(backoffDelay());
    } else if (options.pullIntervalMs > 0) schedule(options.pullIntervalMs);
  };

  const onOnline = () => {
    browserOnline = true;
    failures = 0;
    void runRound();
    options.onChange(false);
  };
  const onOffline = () => {
    browserOnline = false;
    options.onChange(false);
  };
  options.connectivity?.addEventListener("online", onOnline);
  options.connectivity?.addEventListener("offline", onOffline);

  const lead = async () => {
    leader = true;
    options.onChange(false);
    try {
      await runRound();
    } catch {
      // A round never throws on purpose; whatever escaped, this tab keeps leading until it closes.
    }
    await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve()));
  };
  if (options.locks) {
    options.locks.request(options.lockName, { mode: "exclusive", signal: stop.signal }, lead).catch(() => {
      // Aborted by close() before this tab became the leader.
    });
  } else {
    void lead(); // no Web Locks (tests, old runtimes): every client syncs; the edge's de-duplication keeps it exactly once
  }

  return {
    local: () => ({ online: online(), leader, syncing }),
    wake() {
      // During a backoff a new command waits for the retry (a failing edge is not hammered per command).
      if (leader && online() && !(failures > 0 && cancelTimer)) void runRound();
    },
    round: runRound,
    forced: () => forced,
    setOnline(value) {
      forced = value === "auto" ? undefined : value;
      if (online()) {
        failures = 0;
        void runRound();
      }
    },
    async close() {
      closed = true;
      cancelTimer?.();
      options.connectivity?.removeEventListener("online", onOnline);
      options.connectivity?.removeEventListener("offline", onOffline);
      // Another tab may lead once the lock goes: no answer of this tab's round may land after that.
      await inFlight?.catch(() => {});
      leader = false;
      stop.abort();
    },
  };
}
