import {
  type AppendOptions,
  type AppendResult,
  type ClientSequence,
  type Clock,
  type EventStore,
  eventTypeOf,
  type RecordedEvent,
  type Response,
  type Snapshot,
  satisfiesExpectedVersion,
  systemClock,
  wrongExpectedVersion,
} from "../../src/index.ts";
import { type DurableSqlStorage, type EventRow, firstRow, rows, toRecorded } from "./storage.ts";

const DEFAULT_LIMIT = 1_000;

// Positions are the events table's rowid (INTEGER PRIMARY KEY, never deleted): assigned inside the
// object's transaction, so they are gapless and follow commit order (field notes H4). A deleted stream
// gets a new epoch: its old events stay in the global log, its name starts again from version 0.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS x3m_streams (
  stream TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS x3m_events (
  position INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  metadata TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  UNIQUE (stream, epoch, version)
);
CREATE TABLE IF NOT EXISTS x3m_outbox (
  position INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS x3m_snapshots (
  stream TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (stream, schema_version)
);
CREATE INDEX IF NOT EXISTS x3m_events_by_message ON x3m_events (json_extract(metadata, '$.messageId'));
CREATE TABLE IF NOT EXISTS x3m_answers (
  stream TEXT NOT NULL,
  message_id TEXT NOT NULL,
  response TEXT NOT NULL,
  PRIMARY KEY (stream, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS x3m_clients (
  stream TEXT NOT NULL,
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (stream, client_id)
) WITHOUT ROWID;`;

// Answers of commands that appended events live in those events' metadata (found through the index on
// their message id); answers of commands that appended nothing have a row of their own.
const FIND_ANSWER_IN_EVENTS =
  "SELECT metadata FROM x3m_events WHERE json_extract(metadata, '$.messageId') = ? AND stream = ? LIMIT 1";

/**
 * An event store in a Durable Object's SQLite storage: the same contract as the memory store, with every
 * append checked and written in one transaction, so nothing is acknowledged before it is durable. Create one
 * store per object: it caches its streams' versions, as the object is its storage's only writer.
 *
 * @example
 * import { createSqlEventStore } from "x3m-system/durable-objects";
 * const store = createSqlEventStore(ctx.storage, { clock });
 */
export function createSqlEventStore(
  storage: DurableSqlStorage,
  options: {
    clock?: Clock;
    /** Also record each appended event's position in the outbox table, in the same transaction (see `createOutboxRelay`). */
    outbox?: boolean;
  } = {},
): EventStore {
  const clock = options.clock ?? systemClock;
  storage.sql.exec(SCHEMA);
  const listeners = new Set<(events: readonly RecordedEvent[]) => void>();

  // The object is its storage's only writer, so each stream's row is cached after the first read and
  // updated only once a transaction has committed: an append then runs its inserts and one upsert.
  const streams = new Map<string, { version: number; epoch: number } | undefined>();
  const streamRow = (stream: string) => {
    if (!streams.has(stream)) {
      const row = firstRow<{ version: number; epoch: number }>(
        storage,
        "SELECT version, epoch FROM x3m_streams WHERE stream = ?",
        stream,
      );
      streams.set(stream, row);
    }
    return streams.get(stream);
  };
  const versionOf = (stream: string) => streamRow(stream)?.version ?? -1;
  const recordAnswerRow = (stream: string, messageId: string, response: string) =>
    storage.sql.exec(
      "INSERT INTO x3m_answers (stream, message_id, response) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      stream,
      messageId,
      response,
    );
  const moveClient = (stream: string, client: ClientSequence | undefined) => {
    if (!client) return;
    storage.sql.exec(
      "INSERT INTO x3m_clients (stream, client_id, seq) VALUES (?, ?, ?) ON CONFLICT (stream, client_id) DO UPDATE SET seq = excluded.seq",
      stream,
      client.clientId,
      client.seq,
    );
  };
  const lastPosition = () =>
    firstRow<{ last: number | null }>(storage, "SELECT MAX(position) AS last FROM x3m_events")?.last ?? 0;

  return {
    async has(stream) {
      return versionOf(stream) >= 0;
    },
    async version(stream) {
      return versionOf(stream);
    },
    async read(stream, { from = 0, limit = DEFAULT_LIMIT } = {}) {
      const current = streamRow(stream);
      if (!current) return [];
      return rows<EventRow>(
        storage,
        "SELECT * FROM x3m_events WHERE stream = ? AND epoch = ? AND version >= ? ORDER BY version LIMIT ?",
        stream,
        current.epoch,
        Math.max(0, from),
        limit,
      ).map(toRecorded);
    },
    async readAll({ after = 0, limit = DEFAULT_LIMIT } = {}) {
      return rows<EventRow>(
        storage,
        "SELECT * FROM x3m_events WHERE position > ? ORDER BY position LIMIT ?",
        after,
        limit,
      ).map(toRecorded);
    },
    async lastPosition() {
      return lastPosition();
    },
    async append(stream, events, { expectedVersion = "any", metadata = {}, answer }: AppendOptions = {}) {
      const recordedAt = clock.now();
      const encoded = events.map((event) => ({ type: eventTypeOf(event), data: JSON.stringify(event) }));
      const metadataText = JSON.stringify(
        answer ? { ...metadata, messageId: answer.messageId, response: answer.response } : metadata,
      );
      const current = streamRow(stream);
      const result = storage.transactionSync((): AppendResult => {
        const actual = current?.version ?? -1;
        if (!satisfiesExpectedVersion(expectedVersion, actual))
          return wrongExpectedVersion(stream, expectedVersion, actual);
        if (encoded.length === 0) {
          if (answer) recordAnswerRow(stream, answer.messageId, JSON.stringify(answer.response));
          moveClient(stream, answer?.client);
          const position = lastPosition();
          return { ok: true, version: actual, firstPosition: position, lastPosition: position };
        }
        const epoch = current?.epoch ?? 0;
        // RETURNING gives each event's position: no MAX(position) query per append.
        const positions = encoded.map(
          (event, i) =>
            firstRow<{ position: number }>(
              storage,
              "INSERT INTO x3m_events (stream, epoch, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING position",
              stream,
              epoch,
              actual + 1 + i,
              event.type,
              event.data,
              metadataText,
              recordedAt,
            )?.position as number,
        );
        if (options.outbox) {
          for (const position of positions) storage.sql.exec("INSERT INTO x3m_outbox (position) VALUES (?)", position);
        }
        moveClient(stream, answer?.client);
        const version = actual + encoded.length;
        storage.sql.exec(
          "INSERT INTO x3m_streams (stream, version, epoch) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET version = excluded.version",
          stream,
          version,
          epoch,
        );
        return { ok: true, version, firstPosition: positions[0] as number, lastPosition: positions.at(-1) as number };
      });
      if (result.ok && encoded.length > 0) streams.set(stream, { version: result.version, epoch: current?.epoch ?? 0 });
      if (result.ok && encoded.length > 0 && listeners.size > 0) {
        const published = rows<EventRow>(
          storage,
          "SELECT * FROM x3m_events WHERE position BETWEEN ? AND ? ORDER BY position",
          result.firstPosition,
          result.lastPosition,
        ).map(toRecorded);
        for (const listener of listeners) {
          try {
            listener(published);
          } catch {
            // A subscriber is only a hint (see EventSource.subscribe): its failure never fails the append.
          }
        }
      }
      return result;
    },
    async deleteStream(stream, { expectedVersion = "any" } = {}) {
      return storage.transactionSync((): AppendResult => {
        const current = streamRow(stream);
        const actual = current?.version ?? -1;
        if (!satisfiesExpectedVersion(expectedVersion, actual))
          return wrongExpectedVersion(stream, expectedVersion, actual);
        if (current) {
          storage.sql.exec("UPDATE x3m_streams SET version = -1, epoch = epoch + 1 WHERE stream = ?", stream);
          storage.sql.exec("DELETE FROM x3m_snapshots WHERE stream = ?", stream);
          streams.delete(stream); // re-read after the commit
        }
        const position = lastPosition();
        return { ok: true, version: -1, firstPosition: position, lastPosition: position };
      });
    },
    async saveSnapshot(stream, snapshot: Snapshot) {
      // Only the latest snapshot of each schema version is read, so it replaces any older one.
      storage.sql.exec(
        `INSERT INTO x3m_snapshots (stream, schema_version, version, state) VALUES (?, ?, ?, ?)
         ON CONFLICT (stream, schema_version) DO UPDATE SET version = excluded.version, state = excluded.state
         WHERE excluded.version > x3m_snapshots.version`,
        stream,
        snapshot.schemaVersion,
        snapshot.version,
        JSON.stringify(snapshot.state),
      );
    },
    async loadSnapshot(stream, { schemaVersion }) {
      const row = firstRow<{ version: number; state: string }>(
        storage,
        "SELECT version, state FROM x3m_snapshots WHERE stream = ? AND schema_version = ?",
        stream,
        schemaVersion,
      );
      return row && { version: row.version, schemaVersion, state: JSON.parse(row.state) };
    },
    async recordAnswer(stream, answer) {
      const response = JSON.stringify(answer.response);
      storage.transactionSync(() => {
        recordAnswerRow(stream, answer.messageId, response);
        moveClient(stream, answer.client);
      });
    },
    async findAnswer(stream, messageId) {
      const event = firstRow<{ metadata: string }>(storage, FIND_ANSWER_IN_EVENTS, messageId, stream);
      const fromEvent = event && (JSON.parse(event.metadata) as { response?: Response }).response;
      if (fromEvent) return fromEvent;
      const row = firstRow<{ response: string }>(
        storage,
        "SELECT response FROM x3m_answers WHERE stream = ? AND message_id = ?",
        stream,
        messageId,
      );
      return row ? JSON.parse(row.response) : undefined;
    },
    async clientSequence(stream, clientId) {
      return (
        firstRow<{ seq: number }>(
          storage,
          "SELECT seq FROM x3m_clients WHERE stream = ? AND client_id = ?",
          stream,
          clientId,
        )?.seq ?? 0
      );
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
