import {
  type Clock,
  Message,
  type MessageData,
  mapResponse,
  type RecordedEvent,
  type Response,
} from "../../src/index.ts";
import type { IndexedDbEventStore } from "./event-store.ts";
import { readStreamInTransaction } from "./event-store-transaction.ts";
import { OUTBOX_STORE, type OutboxRow, SYNC_STORE, type SyncStatusRow, type TrackRow, trackKey } from "./outbox.ts";
import { EVENT_STORE_NAMES, type X3mDatabase, type X3mTransaction } from "./schema.ts";
import type { PushOutcome } from "./sync-protocol.ts";

const bySeq = (a: OutboxRow, b: OutboxRow) => (a.seq ?? 0) - (b.seq ?? 0);

/** The request the edge runs: the command as it arrived, without anything the local run added. */
function requestOf(result: Message): MessageData {
  const { events: _events, response: _response, request: _request, halted: _halted, ...rest } = result.toJSON();
  return Message.parse({ ...rest, events: [], response: null, halted: false, valid: true, aggregateMeta: {} }).toJSON();
}

/** The offline client's reads and writes on IndexedDB: each one transaction, awaiting only its own requests. */
export interface OfflineStore {
  /** Confirmed events and outbox rows of one stream, read in one transaction (a consistent view). */
  readView(stream: string): Promise<{ confirmed: RecordedEvent[]; rows: OutboxRow[] }>;
  /** Queues a locally executed command with its tentative events; answers the local version after it. */
  enqueue(command: {
    aggregate: string;
    aggregateId: string;
    stream: string;
    result: Message;
    events: readonly unknown[];
    expectedVersion: number;
    tab: string;
  }): Promise<number>;
  pendingRows(limit: number): Promise<OutboxRow[]>;
  /** Writes the edge's answers for a pushed batch in one transaction. */
  recordOutcomes(rows: readonly OutboxRow[], outcomes: readonly PushOutcome[]): Promise<void>;
  /** Marks one row rejected with a local answer (e.g. a command too large to ever send). */
  rejectLocally(row: OutboxRow, response: Response): Promise<void>;
  /** Stops tracking an aggregate when nothing of it is queued (its pulls are refused). */
  untrackIfIdle(aggregate: string, aggregateId: string, stream: string): Promise<void>;
  /** The offline switch every tab shares (`undefined` = follow the browser). */
  setForcedOnline(online: boolean | undefined, stamp: number): Promise<void>;
  /** Streams to pull: those with applied commands, and the tracked ones. */
  streamsToPull(): Promise<{ aggregate: string; aggregateId: string }[]>;
  confirmedVersion(stream: string): Promise<number>;
  /**
   * Stores pulled events after the stream's confirmed version and drops the applied rows they confirm,
   * in one transaction. `false` when the local version moved meanwhile (another tab pulled): pull again.
   */
  applyPull(stream: string, after: number, events: readonly RecordedEvent[], complete: boolean): Promise<boolean>;
  setStatus(status: Omit<SyncStatusRow, "key">): Promise<void>;
  summary(): Promise<{
    counts: { pending: number; rejected: number };
    status: { lastSyncAt: number | null; lastError: string | null };
    rejectedRows: OutboxRow[];
    /** The shared offline switch and when it was set (0 = never). */
    forced: { online: boolean | undefined; stamp: number };
  }>;
  track(aggregate: string, aggregateId: string): Promise<void>;
  outbox(): Promise<OutboxRow[]>;
  acknowledge(messageId: string): Promise<void>;
}

export function openOfflineStore(eventStore: IndexedDbEventStore, clock: Clock): OfflineStore {
  const db: X3mDatabase = eventStore.db;
  /** A transaction whose failure is never an unhandled rejection: each method awaits `done` where it matters. */
  const transaction = <TMode extends IDBTransactionMode>(
    stores: string | readonly string[],
    mode: TMode,
  ): X3mTransaction<TMode> => {
    const tx = db.transaction(stores as string[], mode) as X3mTransaction<TMode>;
    tx.done.catch(() => {});
    return tx;
  };
  const rowsOf = (tx: X3mTransaction<IDBTransactionMode>, stream: string) =>
    tx.objectStore(OUTBOX_STORE).index("by_stream").getAll(stream) as Promise<OutboxRow[]>;

  return {
    async readView(stream) {
      const tx: X3mTransaction<"readonly"> = transaction([...EVENT_STORE_NAMES, OUTBOX_STORE], "readonly");
      const [confirmed, rows] = await Promise.all([readStreamInTransaction(tx, stream), rowsOf(tx, stream)]);
      await tx.done;
      return { confirmed, rows: rows.sort(bySeq) };
    },

    async enqueue({ aggregate, aggregateId, stream, result, events, expectedVersion, tab }) {
      const version = expectedVersion + events.length;
      const row: OutboxRow = {
        messageId: result.id,
        aggregate,
        aggregateId,
        stream,
        command: requestOf(result),
        events: [...events],
        localResponse: mapResponse(result.response, expectedVersion === -1 ? "new" : "existing", aggregateId, version),
        status: "pending",
        tab,
        createdAt: clock.now(),
      };
      // Structured clone happens here, inside the request: a value IndexedDB cannot store fails this
      // transaction alone, and nothing is queued.
      // The aggregate is tracked from its first local command on, so later syncs keep it fresh.
      const track: TrackRow = { key: trackKey(aggregate, aggregateId), aggregate, aggregateId };
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readwrite");
      await Promise.all([tx.objectStore(OUTBOX_STORE).add(row), tx.objectStore(SYNC_STORE).put(track), tx.done]);
      return version;
    },

    async pendingRows(limit) {
      const tx = transaction(OUTBOX_STORE, "readonly");
      const rows = (await tx.objectStore(OUTBOX_STORE).index("by_status").getAll("pending", limit)) as OutboxRow[];
      await tx.done;
      return rows.sort(bySeq);
    },

    async recordOutcomes(rows, outcomes) {
      const tx = transaction(OUTBOX_STORE, "readwrite");
      const outbox = tx.objectStore(OUTBOX_STORE);
      // Only rows still pending take an answer: a late answer (an earlier leader's round) must not bring
      // back a row that was confirmed and removed, nor overwrite a newer answer.
      const current = await Promise.all(
        rows.map((row) => outbox.get(row.seq as number) as Promise<OutboxRow | undefined>),
      );
      const writes: Promise<unknown>[] = [];
      rows.forEach((row, i) => {
        const outcome = outcomes[i];
        if (!outcome || (outcome.status !== "applied" && outcome.status !== "rejected")) return;
        if (current[i]?.status !== "pending") return;
        writes.push(outbox.put({ ...row, status: outcome.status, response: outcome.response }));
      });
      await Promise.all([...writes, tx.done]);
    },

    async untrackIfIdle(aggregate, aggregateId, stream) {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readwrite");
      const queued = await tx.objectStore(OUTBOX_STORE).index("by_stream").count(stream);
      if (queued === 0) await tx.objectStore(SYNC_STORE).delete(trackKey(aggregate, aggregateId));
      await tx.done;
    },

    async setForcedOnline(online, stamp) {
      const tx = transaction(SYNC_STORE, "readwrite");
      await Promise.all([
        tx.objectStore(SYNC_STORE).put({ key: "forced-online", online: online ?? null, stamp }),
        tx.done,
      ]);
    },

    async rejectLocally(row, response) {
      const tx = transaction(OUTBOX_STORE, "readwrite");
      await Promise.all([tx.objectStore(OUTBOX_STORE).put({ ...row, status: "rejected", response }), tx.done]);
    },

    async streamsToPull() {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readonly");
      const [applied, tracked] = await Promise.all([
        tx.objectStore(OUTBOX_STORE).index("by_status").getAll("applied") as Promise<OutboxRow[]>,
        tx.objectStore(SYNC_STORE).getAll(IDBKeyRange.bound("track:", "track:\uffff")) as Promise<TrackRow[]>,
      ]);
      await tx.done;
      const found = new Map<string, { aggregate: string; aggregateId: string }>();
      for (const { aggregate, aggregateId } of [...applied, ...tracked]) {
        found.set(trackKey(aggregate, aggregateId), { aggregate, aggregateId });
      }
      return [...found.values()];
    },

    async confirmedVersion(stream) {
      return eventStore.version(stream);
    },

    async applyPull(stream, after, events, complete) {
      const tx: X3mTransaction = transaction([...EVENT_STORE_NAMES, OUTBOX_STORE], "readwrite");
      const confirmedIds = new Set<string>();
      for (const event of events) {
        const messageId = (event.metadata as { messageId?: unknown }).messageId;
        if (typeof messageId === "string") confirmedIds.add(messageId);
      }
      if (events.length > 0) {
        const result = await eventStore.appendInTransaction(
          tx,
          stream,
          events.map((event) => ({ data: event.data, metadata: event.metadata })),
          { expectedVersion: after },
        );
        if (!result.ok) {
          tx.abort();
          await tx.done.catch(() => {});
          return false;
        }
      }
      const outbox = tx.objectStore(OUTBOX_STORE);
      const rows = (await outbox.index("by_stream").getAll(stream)) as OutboxRow[];
      // An applied command is confirmed when its events arrived, or when the pull reached the edge's
      // version (a command that applied without events has none to bring).
      const deletes = rows
        .filter((row) => row.status === "applied" && (complete || confirmedIds.has(row.messageId)))
        .map((row) => outbox.delete(row.seq as number));
      await Promise.all([...deletes, tx.done]);
      return true;
    },

    async setStatus(status) {
      const tx = transaction(SYNC_STORE, "readwrite");
      await Promise.all([tx.objectStore(SYNC_STORE).put({ key: "status", ...status }), tx.done]);
    },

    async summary() {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readonly");
      const byStatus = tx.objectStore(OUTBOX_STORE).index("by_status");
      const [pending, rejectedRows, statusRow, forcedRow] = await Promise.all([
        byStatus.count("pending"),
        byStatus.getAll("rejected") as Promise<OutboxRow[]>,
        tx.objectStore(SYNC_STORE).get("status") as Promise<SyncStatusRow | undefined>,
        tx.objectStore(SYNC_STORE).get("forced-online") as Promise<
          { online: boolean | null; stamp: number } | undefined
        >,
      ]);
      await tx.done;
      return {
        counts: { pending, rejected: rejectedRows.length },
        status: { lastSyncAt: statusRow?.lastSyncAt ?? null, lastError: statusRow?.lastError ?? null },
        rejectedRows: rejectedRows.sort(bySeq),
        forced: { online: forcedRow?.online ?? undefined, stamp: forcedRow?.stamp ?? 0 },
      };
    },

    async track(aggregate, aggregateId) {
      const tx = transaction(SYNC_STORE, "readwrite");
      const row: TrackRow = { key: trackKey(aggregate, aggregateId), aggregate, aggregateId };
      await Promise.all([tx.objectStore(SYNC_STORE).put(row), tx.done]);
    },

    async outbox() {
      const tx = transaction(OUTBOX_STORE, "readonly");
      const rows = (await tx.objectStore(OUTBOX_STORE).getAll()) as OutboxRow[];
      await tx.done;
      return rows.sort(bySeq);
    },

    async acknowledge(messageId) {
      const tx = transaction(OUTBOX_STORE, "readwrite");
      const rows = (await tx.objectStore(OUTBOX_STORE).index("by_status").getAll("rejected")) as OutboxRow[];
      const deletes = rows
        .filter((row) => row.messageId === messageId)
        .map((row) => tx.objectStore(OUTBOX_STORE).delete(row.seq as number));
      await Promise.all([...deletes, tx.done]);
    },
  };
}
