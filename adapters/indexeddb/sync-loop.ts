import {
  type AnyAggregate,
  type Clock,
  foldEvents,
  initialStateOf,
  type PushedCommand,
  type RecordedEvent,
  Response,
  type Telemetry,
} from "../../src/index.ts";
import { coalesced } from "./coalesced.ts";
import type { LivePokes } from "./live-pokes.ts";
import type { ConfirmedChanges, OfflineStore, TrackedCursor } from "./offline-store.ts";
import { countsInView, type OutboxRow } from "./outbox.ts";
import { rebase, type VersionedState } from "./rebase.ts";
import { fetchChanges, pushCommands, type SyncEndpoint, SyncRequestError } from "./sync-protocol.ts";

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
  /** Most events per changes request. */
  readonly changesLimit: number;
  /** The edge's live channel: the leader keeps it open and tells it what is tracked. */
  readonly live?: LivePokes;
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

/** Rounds of one changes request each, at most, in one sync round (each makes progress). */
const MAX_CHANGES_REQUESTS = 50;

/**
 * The leader's loop, a round at a time: push the outbox in order (each command with its client sequence),
 * record each answer, ask for every tracked aggregate's changes in one request, store them, then rebase
 * the pending commands of every stream whose confirmed state moved; back off on failure. Only the tab
 * holding the sync lock runs rounds.
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

  /** Confirmed states of the streams this leader rebased: a rebase folds only the events since. */
  const confirmedStates = new Map<string, VersionedState>();

  const pushedOf = (row: OutboxRow): PushedCommand => ({
    aggregate: row.aggregate,
    aggregateId: row.aggregateId,
    seq: row.clientSeq,
    messageId: row.messageId,
    command: row.command,
  });

  /**
   * Pushes the queue in order; answers whether the edge asked to retry part of it later. Streams whose view
   * changed (rejections) are added to `touched`.
   */
  const push = async (clientId: string, touched: Set<string>): Promise<boolean> => {
    for (;;) {
      if (closed) return false;
      const rows = await store.pendingRows(batchSize);
      if (rows.length === 0) return false;
      let results: Awaited<ReturnType<typeof pushCommands>>;
      try {
        results = await pushCommands(options.endpoint, clientId, rows.map(pushedOf));
      } catch (error) {
        if (error instanceof SyncRequestError && error.kind === "too_large") {
          if (batchSize > 1) {
            batchSize = Math.max(1, Math.floor(batchSize / 2));
            continue;
          }
          await refuseTooLarge(clientId, rows[0] as OutboxRow);
          touched.add((rows[0] as OutboxRow).stream);
          options.onChange(true);
          continue;
        }
        throw error;
      }
      for (const stream of await store.recordOutcomes(rows, results)) touched.add(stream);
      options.onChange(true);
      for (const [i, result] of results.entries()) {
        if (result.status === "rejected") {
          options.telemetry.emit(
            "sync_command_rejected",
            {},
            { messageId: rows[i]?.messageId, response: result.response },
          );
        }
      }
      // The edge could not reach an aggregate: the rest waits (in order) for the next round.
      if (results.some((result) => result.status === "retry" || result.status === "not_processed")) return true;
      batchSize = options.batchSize;
    }
  };

  /**
   * A command too large for the edge can never be sent. Its place in the sequence is given up at the edge
   * (an empty envelope, refused there and recorded like any refusal), so the commands behind it still run.
   */
  const refuseTooLarge = async (clientId: string, row: OutboxRow) => {
    await pushCommands(options.endpoint, clientId, [{ ...pushedOf(row), command: null }]);
    await store.rejectLocally(
      row,
      Response.validationError([{ message: "the command is larger than the edge accepts", path: [] }]),
    );
  };

  /**
   * Asks for every tracked aggregate's changes (one request, repeated only while the edge says there is
   * more) and stores each aggregate once all of its pages are in: the view never shows half of an answer.
   */
  const pullChanges = async (clientId: string, touched: Set<string>) => {
    let failure: unknown;
    const buffered = new Map<string, { cursor: TrackedCursor; events: RecordedEvent[] }>();
    let asking = await store.cursors();
    // The live channel pokes for what is tracked now (sent only when the set changed).
    options.live?.track(asking.map((cursor) => ({ aggregate: cursor.aggregate, id: cursor.aggregateId })));
    for (let request = 0; request < MAX_CHANGES_REQUESTS && asking.length > 0 && !closed; request++) {
      const cursors = asking.map((cursor) => ({
        aggregate: cursor.aggregate,
        id: cursor.aggregateId,
        after: buffered.get(cursor.stream)?.events.at(-1)?.version ?? cursor.after,
        seq: cursor.edgeSeq,
      }));
      const reply = await fetchChanges(options.endpoint, clientId, cursors, options.changesLimit);
      const byKey = new Map(asking.map((cursor) => [`${cursor.aggregate}\u0000${cursor.aggregateId}`, cursor]));
      const complete: ConfirmedChanges[] = [];
      const settled = new Set<TrackedCursor>();
      for (const change of reply.changes) {
        const cursor = byKey.get(`${change.aggregate}\u0000${change.id}`);
        if (!cursor) continue;
        const entry = buffered.get(cursor.stream) ?? { cursor, events: [] };
        buffered.set(cursor.stream, entry);
        entry.events.push(...change.events);
        if (change.seq !== undefined) {
          complete.push({ cursor, events: entry.events, seq: change.seq });
          buffered.delete(cursor.stream);
          settled.add(cursor);
        }
      }
      for (const error of reply.errors) {
        const cursor = byKey.get(`${error.aggregate}\u0000${error.id}`);
        if (!cursor) continue;
        settled.add(cursor);
        // An aggregate this user may not read (e.g. a creation the edge refused) is no longer tracked once
        // nothing of it is queued, so it does not fail every round from now on.
        if (error.code === "FORBIDDEN") await store.untrackIfIdle(cursor.aggregate, cursor.aggregateId, cursor.stream);
        failure ??= new SyncRequestError(
          "unauthorized",
          `sync changes of ${error.aggregate} ${error.id}: ${error.code}`,
        );
      }
      if (complete.length > 0) {
        const { stored } = await store.applyChanges(complete);
        for (const stream of stored) touched.add(stream);
        if (stored.length > 0) options.onChange(true);
      }
      if (!reply.more) break;
      // Not answered yet (the reply was full) or still incomplete: ask again.
      asking = asking.filter((cursor) => !settled.has(cursor));
    }
    if (failure !== undefined) throw failure;
  };

  /** Re-runs the pending commands of `streams` on their confirmed state; retries a stream a tab wrote meanwhile. */
  const rebaseStreams = async (streams: Set<string>) => {
    let remaining = new Set(streams);
    for (let attempt = 0; attempt < 3 && remaining.size > 0 && !closed; attempt++) {
      const from = new Map([...remaining].map((stream) => [stream, (confirmedStates.get(stream)?.version ?? -1) + 1]));
      const inputs = await store.rebaseInputs(from);
      const updates: { stream: string; stamp: number; rows: OutboxRow[] }[] = [];
      for (const [stream, input] of inputs) {
        const name = input.rows[0]?.aggregate;
        const aggregate = name === undefined ? undefined : options.aggregates[name];
        if (!aggregate) continue;
        const cached = confirmedStates.get(stream) ?? { state: initialStateOf(aggregate), version: -1 };
        const confirmed = {
          state: foldEvents(
            aggregate,
            cached.state,
            input.events.map((event) => event.data),
          ),
          version: input.events.at(-1)?.version ?? cached.version,
        };
        confirmedStates.set(stream, confirmed);
        const live = input.rows.filter((row) => countsInView(row, input.edgeSeq));
        const { changed } = await rebase(aggregate, confirmed, live);
        if (changed.length > 0) updates.push({ stream, stamp: input.stamp, rows: changed });
      }
      remaining = new Set(await store.writeRebase(updates));
      if (updates.length > 0) options.onChange(true);
    }
  };

  const round = async () => {
    if (!online()) return;
    syncing = true;
    options.onChange(false);
    try {
      let failure: unknown;
      let blocked = false;
      const clientId = await store.clientId();
      const touched = new Set<string>();
      try {
        blocked = await push(clientId, touched);
      } catch (error) {
        failure = error;
      }
      try {
        // Ask for changes even after a failed or partial push: what the edge has is confirmed either way,
        // and pending commands are rebased on it.
        await pullChanges(clientId, touched);
      } catch (error) {
        failure ??= error;
      } finally {
        // Rejections and new confirmed events change what the pending commands decide: run them again.
        await rebaseStreams(touched);
      }
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
        await store.setStatus({ lastError: message });
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
    options.live?.start();
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
      options.live?.stop();
      stop.abort();
    },
  };
}
