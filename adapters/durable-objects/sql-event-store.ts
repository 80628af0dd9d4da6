import {
  type AppendOptions,
  type ClientSequence,
  type Clock,
  type CommandAnswer,
  type EventStore,
  eventTypeOf,
  type RecordedEvent,
  type Snapshot,
  satisfiesExpectedVersion,
  systemClock,
  wrongExpectedVersion,
} from "../../src/index.ts";
import { createAnswerBounds, findAnswerRow, insertAnswer } from "./sql-answers.ts";
import { EVENTS_PER_INSERT, type EventRows, insertEvents, migrateEventTables } from "./sql-event-schema.ts";
import { type DurableSqlStorage, type EventRow, firstRow, rows, toRecorded } from "./storage.ts";

const DEFAULT_LIMIT = 1_000;
/** Client sequences kept in memory (a bounded cache: one row read brings an evicted one back). */
const CLIENT_CACHE_SIZE = 4_096;

/** A stream as the store holds it in memory: read once, then kept up to date by its own writes. */
interface StreamState {
  epoch: number;
  version: number;
}

// Read once per stream and object life, through indexes: its epoch and its version (its last event's).
const LOAD_STREAM = `
WITH s AS (SELECT COALESCE((SELECT epoch FROM x3m_streams WHERE stream = ?1), 0) AS epoch)
SELECT s.epoch AS epoch,
  COALESCE((SELECT version FROM x3m_events WHERE stream = ?1 AND epoch = s.epoch ORDER BY version DESC LIMIT 1), -1) AS version
FROM s`;

/**
 * An event store in a Durable Object's SQLite storage: the same contract as the memory store, nothing
 * acknowledged before it is durable (the object's output gate holds every answer until its writes commit).
 * Create one store per object: the object is its storage's only writer, so the store keeps positions,
 * versions and client sequences in memory after reading them once. An append of up to 32 events is one
 * `INSERT` (atomic by itself: the answer in the events' metadata, the client's sequence and the outbox
 * rows through triggers); only longer appends and answers with a client sequence need a transaction.
 *
 * @example
 * import { createSqlEventStore } from "x3m-system/durable-objects";
 * const store = createSqlEventStore(ctx.storage, { clock });
 */
export function createSqlEventStore(
  storage: DurableSqlStorage,
  options: {
    clock?: Clock;
    /** Also record each appended event's position in the outbox table, in the same statement (see `createOutboxRelay`). */
    outbox?: boolean;
  } = {},
): EventStore {
  const clock = options.clock ?? systemClock;
  migrateEventTables(storage, { outbox: options.outbox === true });
  const listeners = new Set<(events: readonly RecordedEvent[]) => void>();

  const streams = new Map<string, StreamState>();
  const streamState = (stream: string): StreamState => {
    let state = streams.get(stream);
    if (!state) {
      state = firstRow<StreamState>(storage, LOAD_STREAM, stream) as StreamState;
      streams.set(stream, state);
    }
    return state;
  };

  let last: number | undefined;
  const lastPosition = () => {
    last ??= firstRow<{ last: number }>(storage, "SELECT COALESCE(MAX(position), 0) AS last FROM x3m_events")?.last;
    return last ?? 0;
  };

  const bounds = createAnswerBounds(storage);

  const clients = new Map<string, number>();
  const clientKey = (stream: string, clientId: string) => `${stream}\u0000${clientId}`;
  const rememberClient = (stream: string, client: ClientSequence) => {
    const key = clientKey(stream, client.clientId);
    clients.delete(key);
    clients.set(key, client.seq);
    if (clients.size > CLIENT_CACHE_SIZE) clients.delete(clients.keys().next().value as string);
  };

  /** Records the answer of a command that appended nothing: one statement, or two in a transaction with a client. */
  const recordAnswerRow = (stream: string, answer: CommandAnswer) => {
    const { client } = answer;
    if (client) {
      storage.transactionSync(() => {
        insertAnswer(storage, stream, answer);
        storage.sql.exec(
          "INSERT INTO x3m_clients (stream, client_id, seq) VALUES (?, ?, ?) ON CONFLICT (stream, client_id) DO UPDATE SET seq = excluded.seq",
          stream,
          client.clientId,
          client.seq,
        );
      });
      rememberClient(stream, client);
    } else {
      insertAnswer(storage, stream, answer);
    }
    bounds.recordedAlone(stream, answer.messageId);
  };

  const publish = (events: readonly RecordedEvent[]) => {
    for (const listener of listeners) {
      try {
        listener(events);
      } catch {
        // A subscriber is only a hint (see EventSource.subscribe): its failure never fails the append.
      }
    }
  };

  return {
    async has(stream) {
      return streamState(stream).version >= 0;
    },
    async version(stream) {
      return streamState(stream).version;
    },
    async read(stream, { from = 0, limit = DEFAULT_LIMIT } = {}) {
      const state = streamState(stream);
      if (state.version < 0) return [];
      return rows<EventRow>(
        storage,
        "SELECT * FROM x3m_events WHERE stream = ? AND epoch = ? AND version >= ? ORDER BY version LIMIT ?",
        stream,
        state.epoch,
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
      // Synchronous from here to the end: no other call of this store runs between the check and the write.
      const state = streamState(stream);
      const actual = state.version;
      if (!satisfiesExpectedVersion(expectedVersion, actual))
        return wrongExpectedVersion(stream, expectedVersion, actual);
      if (events.length === 0) {
        if (answer) recordAnswerRow(stream, answer);
        const position = lastPosition();
        return { ok: true, version: actual, firstPosition: position, lastPosition: position };
      }
      const recordedAt = clock.now();
      const metadataText = JSON.stringify(
        answer ? { ...metadata, messageId: answer.messageId, response: answer.response } : metadata,
      );
      const first = lastPosition() + 1;
      const client = answer?.client;
      const shared: EventRows = {
        stream,
        epoch: state.epoch,
        metadata: metadataText,
        recordedAt,
        firstPosition: first,
        firstVersion: actual + 1,
        client,
      };
      try {
        if (events.length <= EVENTS_PER_INSERT) {
          insertEvents(storage, shared, events);
        } else {
          storage.transactionSync(() => {
            for (let offset = 0; offset < events.length; ) offset += insertEvents(storage, shared, events, offset);
          });
        }
      } catch (error) {
        // Nothing was written. If something else wrote these tables (a second store on the same storage), the
        // position or version was taken: read both again next time instead of failing every append after.
        last = undefined;
        streams.delete(stream);
        throw error;
      }
      // Written: only now does the memory move on (a failed statement or transaction wrote nothing).
      last = first + events.length - 1;
      state.version = actual + events.length;
      bounds.recordedInEvents(answer?.messageId ?? metadata.messageId);
      if (client) rememberClient(stream, client);
      if (listeners.size > 0) {
        const recorded = JSON.parse(metadataText);
        publish(
          events.map((event, i) => ({
            stream,
            version: actual + 1 + i,
            position: first + i,
            type: eventTypeOf(event),
            data: JSON.parse(JSON.stringify(event)),
            metadata: i === 0 ? recorded : JSON.parse(metadataText),
            recordedAt,
          })),
        );
      }
      return { ok: true, version: state.version, firstPosition: first, lastPosition: last };
    },
    async deleteStream(stream, { expectedVersion = "any" } = {}) {
      const state = streamState(stream);
      const actual = state.version;
      if (!satisfiesExpectedVersion(expectedVersion, actual))
        return wrongExpectedVersion(stream, expectedVersion, actual);
      if (actual >= 0) {
        const epoch = state.epoch + 1;
        storage.transactionSync(() => {
          storage.sql.exec(
            "INSERT INTO x3m_streams (stream, version, epoch) VALUES (?, -1, ?) ON CONFLICT (stream) DO UPDATE SET version = -1, epoch = excluded.epoch",
            stream,
            epoch,
          );
          storage.sql.exec("DELETE FROM x3m_snapshots WHERE stream = ?", stream);
        });
        state.epoch = epoch;
        state.version = -1;
      }
      const position = lastPosition();
      return { ok: true, version: -1, firstPosition: position, lastPosition: position };
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
      recordAnswerRow(stream, answer);
    },
    async findAnswer(stream, messageId) {
      return bounds.mayBeAnswered(stream, messageId) ? findAnswerRow(storage, stream, messageId) : undefined;
    },
    async clientSequence(stream, clientId) {
      const key = clientKey(stream, clientId);
      const cached = clients.get(key);
      if (cached !== undefined) return cached;
      const seq =
        firstRow<{ seq: number }>(
          storage,
          "SELECT seq FROM x3m_clients WHERE stream = ? AND client_id = ?",
          stream,
          clientId,
        )?.seq ?? 0;
      rememberClient(stream, { clientId, seq });
      return seq;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
