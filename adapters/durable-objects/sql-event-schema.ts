import { type ClientSequence, eventTypeOf } from "../../src/index.ts";
import { type DurableSqlStorage, rows } from "./storage.ts";

// Positions are the events table's rowid (INTEGER PRIMARY KEY, never deleted), given by the store from its
// cached last position: the object is its storage's only writer, so they are gapless and follow commit
// order. A deleted stream gets a new epoch (a row in x3m_streams): its old events stay in the global log,
// its name starts again from version 0. A stream's version is its last event's at its epoch.
//
// Answers of commands that appended events live in those events' metadata (found through the index on
// their message id); answers of commands that appended nothing have a row of their own (x3m_answers).
// The first event of a command pushed by an offline client carries the client's id and sequence number;
// a trigger moves the client's row in x3m_clients in the same statement as the insert, so the append stays
// one atomic statement.
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
  client_id TEXT,
  client_seq INTEGER,
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

// Created after the migration below: the trigger names the columns it adds to older databases.
const CLIENT_TRIGGER = `
CREATE TRIGGER IF NOT EXISTS x3m_events_client AFTER INSERT ON x3m_events WHEN new.client_id IS NOT NULL
BEGIN
  INSERT INTO x3m_clients (stream, client_id, seq) VALUES (new.stream, new.client_id, new.client_seq)
  ON CONFLICT (stream, client_id) DO UPDATE SET seq = excluded.seq;
END;`;

// With a relay, every event's position goes to the outbox in the same statement as the event.
const OUTBOX_TRIGGER = `
CREATE TRIGGER IF NOT EXISTS x3m_events_outbox AFTER INSERT ON x3m_events
BEGIN
  INSERT INTO x3m_outbox (position) VALUES (new.position);
END;`;

/**
 * Creates the tables, or brings a database written by an earlier release up to date: the events table
 * gets the client columns (older rows keep NULL: their clients' sequences are already in x3m_clients).
 * Older databases also kept each stream's version in x3m_streams on every append; it is no longer read or
 * maintained there (the version is the last event's), so such a database cannot go back to that release.
 */
export function migrateEventTables(storage: DurableSqlStorage, options: { outbox: boolean }): void {
  storage.sql.exec(SCHEMA);
  const columns = new Set(
    rows<{ name: string }>(storage, "SELECT name FROM pragma_table_info('x3m_events')").map((c) => c.name),
  );
  if (!columns.has("client_id")) storage.sql.exec("ALTER TABLE x3m_events ADD COLUMN client_id TEXT");
  if (!columns.has("client_seq")) storage.sql.exec("ALTER TABLE x3m_events ADD COLUMN client_seq INTEGER");
  storage.sql.exec(CLIENT_TRIGGER);
  // A class that stops relaying stops filling its outbox (as before, when the store inserted its rows).
  storage.sql.exec(options.outbox ? OUTBOX_TRIGGER : "DROP TRIGGER IF EXISTS x3m_events_outbox");
}

// Bound parameters of one insert: 8 shared (stream, epoch, metadata, time, first position, first version,
// client id and sequence) and 2 per event (type, data). Durable Objects allow 100 per statement.
const SHARED_PARAMETERS = 8;
/** Events per insert statement; a longer append runs several inside one transaction. */
export const EVENTS_PER_INSERT = 32;
const inserts: string[] = [];

/**
 * The insert of `count` events of one append: positions and versions count up from the first ones, and
 * only the first event carries the command's client (the trigger then moves its sequence once).
 */
function insertEventsSql(count: number): string {
  let sql = inserts[count];
  if (sql === undefined) {
    const values = Array.from({ length: count }, (_, i) => {
      const type = SHARED_PARAMETERS + 1 + 2 * i;
      const client = i === 0 ? "?7, ?8" : "NULL, NULL";
      const next = i === 0 ? "" : ` + ${i}`;
      return `(?5${next}, ?1, ?2, ?6${next}, ?${type}, ?${type + 1}, ?3, ?4, ${client})`;
    });
    sql = `INSERT INTO x3m_events (position, stream, epoch, version, type, data, metadata, recorded_at, client_id, client_seq) VALUES ${values.join(", ")}`;
    inserts[count] = sql;
  }
  return sql;
}

/** What every event of one append shares, and where its first event goes. */
export interface EventRows {
  readonly stream: string;
  readonly epoch: number;
  readonly metadata: string;
  readonly recordedAt: number;
  readonly firstPosition: number;
  readonly firstVersion: number;
  readonly client: ClientSequence | undefined;
}

/** Inserts `events[offset]` and up to `EVENTS_PER_INSERT - 1` more in one statement; answers how many. */
export function insertEvents(
  storage: DurableSqlStorage,
  shared: EventRows,
  events: readonly unknown[],
  offset = 0,
): number {
  const count = Math.min(EVENTS_PER_INSERT, events.length - offset);
  const client = offset === 0 ? shared.client : undefined;
  if (count === 1) {
    // The common append (one event): no bindings array to build and spread.
    const event = events[offset];
    storage.sql.exec(
      insertEventsSql(1),
      shared.stream,
      shared.epoch,
      shared.metadata,
      shared.recordedAt,
      shared.firstPosition + offset,
      shared.firstVersion + offset,
      client?.clientId ?? null,
      client?.seq ?? null,
      eventTypeOf(event),
      JSON.stringify(event),
    );
    return 1;
  }
  const bindings: unknown[] = [
    shared.stream,
    shared.epoch,
    shared.metadata,
    shared.recordedAt,
    shared.firstPosition + offset,
    shared.firstVersion + offset,
    client?.clientId ?? null,
    client?.seq ?? null,
  ];
  for (let i = offset; i < offset + count; i++) {
    const event = events[i];
    bindings.push(eventTypeOf(event), JSON.stringify(event));
  }
  storage.sql.exec(insertEventsSql(count), ...bindings);
  return count;
}
