import { unwrap } from "idb";
import type { ClientSequence, CommandAnswer, Response } from "../../src/index.ts";
import { type AnswerRow, type ClientRow, type EventRow, X3M_STORES, type X3mTransaction } from "./schema.ts";

/** The stores a transaction must cover to record answers and client sequences. @internal */
export const ANSWER_STORE_NAMES = [X3M_STORES.events, X3M_STORES.answers, X3M_STORES.clients] as const;

/**
 * The answer recorded for `messageId` on `stream`: in its events' metadata when it appended some, else in
 * its own row. `tx` covers `ANSWER_STORE_NAMES`. @internal
 */
export async function findAnswerInTransaction(
  tx: X3mTransaction<IDBTransactionMode>,
  stream: string,
  messageId: string,
): Promise<Response | undefined> {
  const [event, row] = await Promise.all([
    tx.objectStore(X3M_STORES.events).index("by_message").get([stream, messageId]) as Promise<EventRow | undefined>,
    tx.objectStore(X3M_STORES.answers).get([stream, messageId]) as Promise<AnswerRow | undefined>,
  ]);
  return (event?.metadata.response as Response | undefined) ?? row?.response;
}

/** Moves the client's sequence on `stream` (a plain request: a failure aborts `tx`). @internal */
export function moveClientInTransaction(tx: X3mTransaction, stream: string, client: ClientSequence | undefined): void {
  if (!client) return;
  unwrap(tx.objectStore(X3M_STORES.clients)).put({
    stream,
    clientId: client.clientId,
    seq: client.seq,
  } satisfies ClientRow);
}

/** Records an answer that appended nothing, keeping a first answer; moves the client's sequence. @internal */
export async function recordAnswerInTransaction(tx: X3mTransaction, stream: string, answer: CommandAnswer) {
  // Copied before the first await: what cannot be cloned fails here, before anything is written.
  const response = structuredClone(answer.response);
  moveClientInTransaction(tx, stream, answer.client);
  if ((await findAnswerInTransaction(tx, stream, answer.messageId)) !== undefined) return;
  unwrap(tx.objectStore(X3M_STORES.answers)).put({ stream, messageId: answer.messageId, response } satisfies AnswerRow);
}

/** The last sequence recorded for `clientId` on `stream` (0 = none). @internal */
export async function clientSequenceInTransaction(
  tx: X3mTransaction<IDBTransactionMode>,
  stream: string,
  clientId: string,
): Promise<number> {
  const row = (await tx.objectStore(X3M_STORES.clients).get([stream, clientId])) as ClientRow | undefined;
  return row?.seq ?? 0;
}
