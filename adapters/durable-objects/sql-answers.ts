import type { CommandAnswer, Response } from "../../src/index.ts";
import { type DurableSqlStorage, rows } from "./storage.ts";

// The SQL event store's answers: found in one statement wherever they live (the events' metadata or
// x3m_answers), and an "answered before?" check that costs a new command no statement at all.

/** The message ids this SDK makes (UUIDv7, lowercase): ordered by time as strings. */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const LOWEST = "00000000-0000-7000-8000-000000000000";
const HIGHEST = "ffffffff-ffff-7fff-bfff-ffffffffffff";
/** Ids read at most from the top of the UUIDv7 range of strings, where other ids may lie above the UUIDv7 ones. */
const SCAN = 64;

// One statement for both places an answer lives; events without a response (older releases) are skipped.
const FIND_ANSWER = `
SELECT * FROM (
  SELECT metadata AS answer, 1 AS in_events FROM x3m_events
  WHERE json_extract(metadata, '$.messageId') = ?1 AND stream = ?2 AND json_extract(metadata, '$.response') IS NOT NULL
  LIMIT 1)
UNION ALL
SELECT response, 0 FROM x3m_answers WHERE stream = ?2 AND message_id = ?1`;

// The greatest ids in the UUIDv7 range of strings, through the indexes on the message ids.
const TOP_EVENT_IDS = `
SELECT json_extract(metadata, '$.messageId') AS id FROM x3m_events
WHERE json_extract(metadata, '$.messageId') BETWEEN ?1 AND ?2
ORDER BY json_extract(metadata, '$.messageId') DESC LIMIT ?3`;
const TOP_ANSWER_IDS = `
SELECT message_id AS id FROM x3m_answers WHERE stream = ?4 AND message_id BETWEEN ?1 AND ?2
ORDER BY message_id DESC LIMIT ?3`;

/**
 * An upper bound of the UUIDv7 ids that `top(limit)` reads (the ids of the range, greatest first): the
 * first UUIDv7 one, nearly always the very first row; else, when the range holds more than `SCAN` ids, the
 * last one read (every UUIDv7 id lies below it); else "" (there is none).
 */
function boundOf(top: (limit: number) => unknown[]): string {
  const first = top(1)[0];
  if (typeof first === "string" && UUID_V7.test(first)) return first;
  const ids = top(SCAN);
  const found = ids.find((id) => typeof id === "string" && UUID_V7.test(id));
  if (typeof found === "string") return found;
  const last = ids.at(-1);
  return ids.length === SCAN && typeof last === "string" ? last : "";
}

/**
 * Knows, without a query, that a fresh message was never answered. A re-delivered id was recorded, so it
 * is not above the greatest recorded id; a fresh UUIDv7 id nearly always is (they grow with time). The
 * bounds cover UUIDv7 ids only (any other id never equals one, so it cannot lower their use) and are kept
 * in memory (the object is its storage's only writer): one indexed read for the events, one per stream for
 * x3m_answers, then raised by every answer recorded. Ids of any other shape, and UUIDv7 ids below a bound
 * (a re-delivery, or a client whose clock lags), are looked up.
 */
export function createAnswerBounds(storage: DurableSqlStorage) {
  let events: string | undefined;
  const answers = new Map<string, string>();
  const ids = (query: string, stream?: string) => (limit: number) =>
    rows<{ id: unknown }>(storage, query, LOWEST, HIGHEST, limit, ...(stream === undefined ? [] : [stream])).map(
      (row) => row.id,
    );
  const eventsBound = () => {
    events ??= boundOf(ids(TOP_EVENT_IDS));
    return events;
  };
  const answersBound = (stream: string) => {
    let found = answers.get(stream);
    if (found === undefined) {
      found = boundOf(ids(TOP_ANSWER_IDS, stream));
      answers.set(stream, found);
    }
    return found;
  };
  return {
    /** False only when `messageId` is known never to have been answered on `stream`. */
    mayBeAnswered(stream: string, messageId: string): boolean {
      return !UUID_V7.test(messageId) || messageId <= eventsBound() || messageId <= answersBound(stream);
    },
    /** An answer was recorded with events (on any stream). */
    recordedInEvents(messageId: unknown): void {
      if (events !== undefined && typeof messageId === "string" && messageId > events && UUID_V7.test(messageId)) {
        events = messageId;
      }
    },
    /** An answer was recorded in x3m_answers for `stream`. */
    recordedAlone(stream: string, messageId: string): void {
      const bound = answers.get(stream);
      if (bound !== undefined && messageId > bound && UUID_V7.test(messageId)) answers.set(stream, messageId);
    },
  };
}

/** The recorded answer of `messageId` on `stream`, looked up in both places in one statement. */
export function findAnswerRow(storage: DurableSqlStorage, stream: string, messageId: string): Response | undefined {
  for (const row of rows<{ answer: string; in_events: number }>(storage, FIND_ANSWER, messageId, stream)) {
    if (row.in_events === 0) return JSON.parse(row.answer) as Response;
    const response = (JSON.parse(row.answer) as { response?: Response }).response;
    if (response) return response;
  }
  return undefined;
}

/** The answer of a command that appended nothing, unless one is recorded already (the first one stays). */
export function insertAnswer(storage: DurableSqlStorage, stream: string, answer: CommandAnswer): void {
  storage.sql.exec(
    "INSERT INTO x3m_answers (stream, message_id, response) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    stream,
    answer.messageId,
    JSON.stringify(answer.response),
  );
}
