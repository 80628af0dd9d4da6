import type { CommandAnswer, Response } from "../../src/index.ts";
import { type DurableSqlStorage, firstRow, rows } from "./storage.ts";

// The SQL event store's answers: found in one statement wherever they live (the events' metadata or
// x3m_answers), and a new command's "answered before?" check that needs no statement at all.

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Whether `messageId` can have been answered, given `bound`, the greatest recorded message id (compared as
 * SQLite compares text: by UTF-8 bytes). For an ASCII id that order is JavaScript's too, so an id above
 * the bound was never recorded. New ids (UUIDv7, increasing) are nearly always above it: their check costs
 * no query. Other ids take the lookup.
 */
export function mayBeAnswered(messageId: string, bound: string): boolean {
  return !PRINTABLE_ASCII.test(messageId) || messageId <= bound;
}

/** `bound` raised to `messageId` when it is ASCII (other ids never skip the lookup, so they need no bound). */
export function raise(bound: string, messageId: unknown): string {
  return typeof messageId === "string" && messageId > bound && PRINTABLE_ASCII.test(messageId) ? messageId : bound;
}

// One statement for both places an answer lives; events without a response (older releases) are skipped.
const FIND_ANSWER = `
SELECT * FROM (
  SELECT metadata AS answer, 1 AS in_events FROM x3m_events
  WHERE json_extract(metadata, '$.messageId') = ?1 AND stream = ?2 AND json_extract(metadata, '$.response') IS NOT NULL
  LIMIT 1)
UNION ALL
SELECT response, 0 FROM x3m_answers WHERE stream = ?2 AND message_id = ?1`;

// The greatest message id in any event's metadata, through the index on it (text sorts after numbers).
const GREATEST_EVENT_MESSAGE_ID = `
SELECT json_extract(metadata, '$.messageId') AS id FROM x3m_events
WHERE json_extract(metadata, '$.messageId') IS NOT NULL
ORDER BY json_extract(metadata, '$.messageId') DESC LIMIT 1`;

/** The recorded answer of `messageId` on `stream`, looked up in both places in one statement. */
export function findAnswerRow(storage: DurableSqlStorage, stream: string, messageId: string): Response | undefined {
  for (const row of rows<{ answer: string; in_events: number }>(storage, FIND_ANSWER, messageId, stream)) {
    if (row.in_events === 0) return JSON.parse(row.answer) as Response;
    const response = (JSON.parse(row.answer) as { response?: Response }).response;
    if (response) return response;
  }
  return undefined;
}

/** The greatest message id in any event's metadata ("" when there is none): the events' bound. */
export function greatestEventMessageId(storage: DurableSqlStorage): string {
  const id = firstRow<{ id: unknown }>(storage, GREATEST_EVENT_MESSAGE_ID)?.id;
  return typeof id === "string" ? id : "";
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
