import type { PushResult, RecordedEvent, Response } from "../../src/index.ts";
import { findAnswerInTransaction } from "./answers-transaction.ts";
import type { IndexedDbEventStore } from "./event-store.ts";
import { readStreamInTransaction } from "./event-store-transaction.ts";
import {
  type ClientIdRow,
  OUTBOX_STORE,
  type OutboxRow,
  type SequenceRow,
  type StampRow,
  SYNC_STORE,
  type SyncStatusRow,
  sequenceKey,
  stampKey,
  type TrackRow,
  trackKey,
} from "./outbox.ts";
import { EVENT_STORE_NAMES, X3M_STORES, type X3mDatabase, type X3mTransaction } from "./schema.ts";
import { abortQuietly } from "./storage-error.ts";

const byClientSeq = (a: OutboxRow, b: OutboxRow) => a.clientSeq - b.clientSeq;
const bySeq = (a: OutboxRow, b: OutboxRow) => (a.seq ?? 0) - (b.seq ?? 0);

/** A stream as this browser knows it, read in one transaction. */
export interface StreamView {
  readonly confirmed: RecordedEvent[];
  /** Its queued rows (every status), in client sequence order. */
  readonly rows: OutboxRow[];
  /** This client's sequence on the stream as the edge last reported it. */
  readonly edgeSeq: number;
  readonly stamp: number;
}

/** Where a tracked aggregate stands: what the next changes request asks from. */
export interface TrackedCursor {
  readonly aggregate: string;
  readonly aggregateId: string;
  readonly stream: string;
  /** The confirmed version held here (-1 = none). */
  readonly after: number;
  readonly edgeSeq: number;
}

/** Changes of one aggregate to store, as the edge sent them (every page of it, complete). */
export interface ConfirmedChanges {
  readonly cursor: TrackedCursor;
  readonly events: readonly RecordedEvent[];
  /** The client's sequence on the aggregate reported with the events (`undefined` if unknown). */
  readonly seq: number | undefined;
}

/** A queued command before it has its place (the store gives it its client sequence). */
export type NewOutboxRow = Omit<OutboxRow, "seq" | "clientSeq" | "status">;

/** The offline client's reads and writes on IndexedDB: each one transaction, awaiting only its own requests. */
export interface OfflineStore {
  /** This database's client id: made on first use, shared by every tab of the database. */
  clientId(): Promise<string>;
  readView(stream: string): Promise<StreamView>;
  /** A command's first step: the stream's stamp, and the recorded answer of `messageId` if it ran before. */
  peek(stream: string, messageId: string): Promise<{ stamp: number; answer: Response | undefined }>;
  /**
   * Queues a locally executed command with its tentative events: the stamp check, its client sequence, the
   * row, the tracking row and the new stamp in one transaction. `undefined` when the stamp moved since the
   * command read the stream (another tab or a sync wrote it): nothing was written, run the command again.
   */
  enqueue(row: NewOutboxRow, expectedStamp: number): Promise<{ stamp: number } | undefined>;
  pendingRows(limit: number): Promise<OutboxRow[]>;
  /** Writes the edge's answers for a pushed batch; answers the streams whose view changed (rejections). */
  recordOutcomes(rows: readonly OutboxRow[], results: readonly PushResult[]): Promise<string[]>;
  /** Marks one row rejected with a local answer (e.g. a command too large to ever send). */
  rejectLocally(row: OutboxRow, response: Response): Promise<void>;
  /** Every tracked aggregate and where it stands. */
  cursors(): Promise<TrackedCursor[]>;
  /**
   * Stores confirmed events and drops the rows they settle (applied ones up to the reported sequence), in
   * one transaction for every aggregate. Answers the streams stored, and those skipped because their
   * confirmed version moved meanwhile (an earlier leader's late pull): ask them again.
   */
  applyChanges(changes: readonly ConfirmedChanges[]): Promise<{ stored: string[]; skipped: string[] }>;
  /** What a rebase needs of each stream: events after `from`, rows, the edge's sequence and the stamp. */
  rebaseInputs(
    streams: ReadonlyMap<string, number>,
  ): Promise<Map<string, { events: RecordedEvent[]; rows: OutboxRow[]; edgeSeq: number; stamp: number }>>;
  /**
   * Writes rebased rows of each stream if its stamp is still the one read (else that stream is skipped
   * and answered: a tab queued a command meanwhile, rebase it again). Bumps the stamps written.
   */
  writeRebase(updates: readonly { stream: string; stamp: number; rows: readonly OutboxRow[] }[]): Promise<string[]>;
  /** Stops tracking an aggregate when nothing of it is queued (its reads are refused). */
  untrackIfIdle(aggregate: string, aggregateId: string, stream: string): Promise<void>;
  /** The offline switch every tab shares (`undefined` = follow the browser). */
  setForcedOnline(online: boolean | undefined, stamp: number): Promise<void>;
  /** Writes the sync status; without `lastSyncAt`, the stored one is kept (a failed round). */
  setStatus(status: { readonly lastSyncAt?: number | null; readonly lastError: string | null }): Promise<void>;
  summary(): Promise<{
    counts: { pending: number; rejected: number; conflicts: number };
    status: { lastSyncAt: number | null; lastError: string | null };
    rejectedRows: OutboxRow[];
    /** The shared offline switch and when it was set (0 = never). */
    forced: { online: boolean | undefined; stamp: number };
  }>;
  track(aggregate: string, aggregateId: string, stream: string): Promise<void>;
  outbox(): Promise<OutboxRow[]>;
  acknowledge(messageId: string): Promise<void>;
}

export function openOfflineStore(eventStore: IndexedDbEventStore): OfflineStore {
  const db: X3mDatabase = eventStore.db;
  /** A transaction whose failure is never an unhandled rejection: each method awaits `done` where it matters. */
  const transaction = <TMode extends IDBTransactionMode>(
    stores: readonly string[],
    mode: TMode,
  ): X3mTransaction<TMode> => {
    const tx = db.transaction(stores as string[], mode) as X3mTransaction<TMode>;
    tx.done.catch(() => {});
    return tx;
  };
  const syncRow = <TRow>(tx: X3mTransaction<IDBTransactionMode>, key: string) =>
    tx.objectStore(SYNC_STORE).get(key) as Promise<TRow | undefined>;
  const rowsOf = async (tx: X3mTransaction<IDBTransactionMode>, stream: string) =>
    ((await tx.objectStore(OUTBOX_STORE).index("by_stream").getAll(stream)) as OutboxRow[]).sort(byClientSeq);
  const stampOf = async (tx: X3mTransaction<IDBTransactionMode>, stream: string) =>
    (await syncRow<StampRow>(tx, stampKey(stream)))?.stamp ?? 0;
  const bumpStamp = (tx: X3mTransaction, stream: string, stamp: number) =>
    tx.objectStore(SYNC_STORE).put({ key: stampKey(stream), stamp: stamp + 1 } satisfies StampRow);
  /** Aborts `tx` (nothing it wrote stays) and waits until it has ended. */
  const abort = async (tx: X3mTransaction) => {
    abortQuietly(tx);
    await tx.done.catch(() => {});
  };
  let clientIdOnce: Promise<string> | undefined;

  return {
    clientId() {
      clientIdOnce ??= (async () => {
        const tx = transaction([SYNC_STORE], "readwrite");
        const existing = await syncRow<ClientIdRow>(tx, "client");
        // 122 random bits: the id is the only name of this client's sequences, so it must not be guessable.
        const row: ClientIdRow = existing ?? { key: "client", clientId: `client-${crypto.randomUUID()}` };
        await Promise.all([existing ? undefined : tx.objectStore(SYNC_STORE).put(row), tx.done]);
        return row.clientId;
      })();
      clientIdOnce.catch(() => {
        clientIdOnce = undefined;
      });
      return clientIdOnce;
    },

    async readView(stream) {
      const tx = transaction([...EVENT_STORE_NAMES, OUTBOX_STORE, SYNC_STORE], "readonly");
      const [confirmed, rows, stamp] = await Promise.all([
        readStreamInTransaction(tx, stream),
        rowsOf(tx, stream),
        stampOf(tx, stream),
      ]);
      const edgeSeq = await edgeSeqOf(tx, rows);
      await tx.done;
      return { confirmed, rows, edgeSeq, stamp };
    },

    async peek(stream, messageId) {
      const tx = transaction([SYNC_STORE, OUTBOX_STORE, X3M_STORES.events, X3M_STORES.answers], "readonly");
      const [stamp, queued, recorded] = await Promise.all([
        stampOf(tx, stream),
        tx.objectStore(OUTBOX_STORE).index("by_message").get(messageId) as Promise<OutboxRow | undefined>,
        findAnswerInTransaction(tx, stream, messageId),
      ]);
      await tx.done;
      const local =
        queued && queued.stream === stream ? (queued.response ?? queued.localResponse ?? undefined) : undefined;
      return { stamp, answer: local ?? recorded };
    },

    async enqueue(newRow, expectedStamp) {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readwrite");
      const [stamp, counter, tracked] = await Promise.all([
        stampOf(tx, newRow.stream),
        syncRow<SequenceRow>(tx, sequenceKey(newRow.stream)),
        syncRow<TrackRow>(tx, trackKey(newRow.aggregate, newRow.aggregateId)),
      ]);
      if (stamp !== expectedStamp) {
        await abort(tx);
        return undefined;
      }
      const clientSeq = (counter?.last ?? 0) + 1;
      const row: OutboxRow = { ...newRow, clientSeq, status: "pending" };
      const sync = tx.objectStore(SYNC_STORE);
      // Structured clone happens in `add`: a value IndexedDB cannot store fails this transaction alone.
      await Promise.all([
        tx.objectStore(OUTBOX_STORE).add(row),
        sync.put({ key: sequenceKey(newRow.stream), last: clientSeq } satisfies SequenceRow),
        // The aggregate is tracked from its first local command on, so later syncs keep it fresh.
        tracked
          ? undefined
          : sync.put({
              key: trackKey(newRow.aggregate, newRow.aggregateId),
              aggregate: newRow.aggregate,
              aggregateId: newRow.aggregateId,
              stream: newRow.stream,
              edgeSeq: 0,
            } satisfies TrackRow),
        bumpStamp(tx, newRow.stream, stamp),
        tx.done,
      ]);
      return { stamp: stamp + 1 };
    },

    async pendingRows(limit) {
      const tx = transaction([OUTBOX_STORE], "readonly");
      const rows = (await tx.objectStore(OUTBOX_STORE).index("by_status").getAll("pending", limit)) as OutboxRow[];
      await tx.done;
      return rows.sort(bySeq);
    },

    async recordOutcomes(rows, results) {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readwrite");
      const outbox = tx.objectStore(OUTBOX_STORE);
      // Only rows still pending take an answer: a late answer (an earlier leader's round) must not bring
      // back a row that was confirmed and removed, nor overwrite a newer answer.
      const current = await Promise.all(
        rows.map((row) => outbox.get(row.seq as number) as Promise<OutboxRow | undefined>),
      );
      const edgeSeqs = await Promise.all(
        rows.map((row) => syncRow<TrackRow>(tx, trackKey(row.aggregate, row.aggregateId))),
      );
      const changed = new Set<string>();
      const writes: Promise<unknown>[] = [];
      rows.forEach((row, i) => {
        const result = results[i];
        if (!result || (result.status !== "applied" && result.status !== "rejected")) return;
        if (current[i]?.status !== "pending") return;
        const answered = { ...(current[i] as OutboxRow), status: result.status, response: result.response };
        // An applied command whose sequence the changes feed already reported has its events confirmed here.
        if (result.status === "applied" && row.clientSeq <= (edgeSeqs[i]?.edgeSeq ?? 0)) {
          writes.push(outbox.delete(row.seq as number));
        } else writes.push(outbox.put(answered));
        if (result.status === "rejected") changed.add(row.stream);
      });
      const stamps = await Promise.all([...changed].map((stream) => stampOf(tx, stream)));
      for (const [i, stream] of [...changed].entries()) writes.push(bumpStamp(tx, stream, stamps[i] as number));
      await Promise.all([...writes, tx.done]);
      return [...changed];
    },

    async rejectLocally(row, response) {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readwrite");
      const stamp = await stampOf(tx, row.stream);
      await Promise.all([
        tx.objectStore(OUTBOX_STORE).put({ ...row, status: "rejected", response }),
        bumpStamp(tx, row.stream, stamp),
        tx.done,
      ]);
    },

    async cursors() {
      const tx = transaction([X3M_STORES.streams, SYNC_STORE], "readonly");
      const tracked = (await tx
        .objectStore(SYNC_STORE)
        .getAll(IDBKeyRange.bound("track:", "track:\uffff"))) as TrackRow[];
      const versions = await Promise.all(
        tracked.map(
          (row) => tx.objectStore(X3M_STORES.streams).get(row.stream) as Promise<{ version: number } | undefined>,
        ),
      );
      await tx.done;
      return tracked.map((row, i) => ({
        aggregate: row.aggregate,
        aggregateId: row.aggregateId,
        stream: row.stream,
        after: versions[i]?.version ?? -1,
        edgeSeq: row.edgeSeq,
      }));
    },

    async applyChanges(changes) {
      const tx = transaction([...EVENT_STORE_NAMES, OUTBOX_STORE, SYNC_STORE], "readwrite");
      const stored: string[] = [];
      const skipped: string[] = [];
      // Every write is awaited with the transaction: a failure is this method's error, never an unhandled one.
      const writes: Promise<unknown>[] = [];
      for (const { cursor, events, seq } of changes) {
        const { stream } = cursor;
        if (events.length > 0) {
          const result = await eventStore.appendInTransaction(
            tx,
            stream,
            events.map((event) => ({ data: event.data, metadata: event.metadata })),
            { expectedVersion: cursor.after },
          );
          if (!result.ok) {
            skipped.push(stream);
            continue;
          }
        }
        const sync = tx.objectStore(SYNC_STORE);
        const [track, stamp, rows] = await Promise.all([
          syncRow<TrackRow>(tx, trackKey(cursor.aggregate, cursor.aggregateId)),
          stampOf(tx, stream),
          seq === undefined ? Promise.resolve([]) : rowsOf(tx, stream),
        ]);
        if (seq !== undefined) {
          // Applied commands up to the reported sequence have their events among the confirmed ones now.
          for (const row of rows) {
            if (row.status === "applied" && row.clientSeq <= seq) {
              writes.push(tx.objectStore(OUTBOX_STORE).delete(row.seq as number));
            }
          }
          if (track) writes.push(sync.put({ ...track, edgeSeq: Math.max(track.edgeSeq, seq) } satisfies TrackRow));
        }
        writes.push(bumpStamp(tx, stream, stamp));
        stored.push(stream);
      }
      await Promise.all([...writes, tx.done]);
      return { stored, skipped };
    },

    async rebaseInputs(streams) {
      const tx = transaction([...EVENT_STORE_NAMES, OUTBOX_STORE, SYNC_STORE], "readonly");
      const inputs = new Map<string, { events: RecordedEvent[]; rows: OutboxRow[]; edgeSeq: number; stamp: number }>();
      await Promise.all(
        [...streams].map(async ([stream, from]) => {
          const [events, rows, stamp] = await Promise.all([
            readStreamInTransaction(tx, stream, { from }),
            rowsOf(tx, stream),
            stampOf(tx, stream),
          ]);
          inputs.set(stream, { events, rows, edgeSeq: await edgeSeqOf(tx, rows), stamp });
        }),
      );
      await tx.done;
      return inputs;
    },

    async writeRebase(updates) {
      if (updates.length === 0) return [];
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readwrite");
      const stamps = await Promise.all(updates.map(({ stream }) => stampOf(tx, stream)));
      const skipped: string[] = [];
      const outbox = tx.objectStore(OUTBOX_STORE);
      const current = await Promise.all(
        updates.map(({ rows }) =>
          Promise.all(rows.map((row) => outbox.get(row.seq as number) as Promise<OutboxRow | undefined>)),
        ),
      );
      const writes: Promise<unknown>[] = [];
      for (const [i, { stream, stamp, rows }] of updates.entries()) {
        if (stamps[i] !== stamp) {
          skipped.push(stream);
          continue;
        }
        for (const [j, row] of rows.entries()) {
          // Only rows still as they were read: an answer that arrived meanwhile wins.
          if (current[i]?.[j]?.status === row.status) writes.push(outbox.put(row));
        }
        writes.push(bumpStamp(tx, stream, stamp));
      }
      await Promise.all([...writes, tx.done]);
      return skipped;
    },

    async untrackIfIdle(aggregate, aggregateId, stream) {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readwrite");
      const queued = await tx.objectStore(OUTBOX_STORE).index("by_stream").count(stream);
      if (queued === 0) await tx.objectStore(SYNC_STORE).delete(trackKey(aggregate, aggregateId));
      await tx.done;
    },

    async setForcedOnline(online, stamp) {
      const tx = transaction([SYNC_STORE], "readwrite");
      await Promise.all([
        tx.objectStore(SYNC_STORE).put({ key: "forced-online", online: online ?? null, stamp }),
        tx.done,
      ]);
    },

    async setStatus({ lastSyncAt, lastError }) {
      const tx = transaction([SYNC_STORE], "readwrite");
      // Read and written in one transaction: a failed round keeps the last successful round's time.
      const kept =
        lastSyncAt !== undefined ? lastSyncAt : ((await syncRow<SyncStatusRow>(tx, "status"))?.lastSyncAt ?? null);
      const row: SyncStatusRow = { key: "status", lastSyncAt: kept, lastError };
      await Promise.all([tx.objectStore(SYNC_STORE).put(row), tx.done]);
    },

    async summary() {
      const tx = transaction([OUTBOX_STORE, SYNC_STORE], "readonly");
      const outbox = tx.objectStore(OUTBOX_STORE);
      // Counts through indexes: a status refresh costs the same with 10 or 10,000 queued commands.
      const [pending, failing, rejectedRows, statusRow, forcedRow] = await Promise.all([
        outbox.index("by_status").count("pending"),
        outbox.index("by_failure").getAll() as Promise<OutboxRow[]>,
        outbox.index("by_status").getAll("rejected") as Promise<OutboxRow[]>,
        syncRow<SyncStatusRow>(tx, "status"),
        syncRow<{ online: boolean | null; stamp: number }>(tx, "forced-online"),
      ]);
      await tx.done;
      return {
        counts: {
          pending,
          rejected: rejectedRows.length,
          conflicts: failing.filter((row) => row.status === "pending").length,
        },
        status: { lastSyncAt: statusRow?.lastSyncAt ?? null, lastError: statusRow?.lastError ?? null },
        rejectedRows: rejectedRows.sort(bySeq),
        forced: { online: forcedRow?.online ?? undefined, stamp: forcedRow?.stamp ?? 0 },
      };
    },

    async track(aggregate, aggregateId, stream) {
      const tx = transaction([SYNC_STORE], "readwrite");
      const key = trackKey(aggregate, aggregateId);
      const existing = await syncRow<TrackRow>(tx, key);
      const row: TrackRow = { key, aggregate, aggregateId, stream, edgeSeq: 0 };
      await Promise.all([existing ? undefined : tx.objectStore(SYNC_STORE).put(row), tx.done]);
    },

    async outbox() {
      const tx = transaction([OUTBOX_STORE], "readonly");
      const rows = (await tx.objectStore(OUTBOX_STORE).getAll()) as OutboxRow[];
      await tx.done;
      return rows.sort(bySeq);
    },

    async acknowledge(messageId) {
      const tx = transaction([OUTBOX_STORE], "readwrite");
      const rows = (await tx.objectStore(OUTBOX_STORE).index("by_message").getAll(messageId)) as OutboxRow[];
      const deletes = rows
        .filter((row) => row.status === "rejected")
        .map((row) => tx.objectStore(OUTBOX_STORE).delete(row.seq as number));
      await Promise.all([...deletes, tx.done]);
    },
  };

  /** The edge's reported sequence of the stream the rows belong to (0 without rows or tracking). */
  async function edgeSeqOf(tx: X3mTransaction<IDBTransactionMode>, rows: readonly OutboxRow[]): Promise<number> {
    const first = rows[0];
    if (!first) return 0;
    return (await syncRow<TrackRow>(tx, trackKey(first.aggregate, first.aggregateId)))?.edgeSeq ?? 0;
  }
}
