// The offline-sync protocol, defined once: the edge validates requests and the browser validates
// answers with these schemas, so the two ends cannot drift apart.
import * as z from "zod/mini";
import type { ClientCommandStatus } from "../aggregate/client-commands.ts";
import type { RecordedEvent } from "../event-store/event-store.ts";
import type { Response } from "../response.ts";
import { idSchema, nameSchema, responseSchema } from "../wire-schema.ts";

/** The protocol version both ends speak; every request and answer carries it. */
export const SYNC_PROTOCOL_VERSION = 2;

/** Most commands in one push, and most cursors in one changes request. */
export const SYNC_LIMITS = { maxCommands: 1_000, maxCursors: 1_000, maxEventsPerPage: 1_000 } as const;

const protocolSchema = z.literal(SYNC_PROTOCOL_VERSION);
/** A client id: random and unguessable (it is the only thing that names a client's sequences). */
const clientIdSchema = z.string().check(z.minLength(16), z.maxLength(100));
const aggregateIdSchema = z.string().check(z.minLength(1), z.maxLength(200));

/** One pushed command: where it applies, its place in the client's sequence on that aggregate, and the envelope. */
const pushedCommandSchema = z.object({
  aggregate: nameSchema,
  aggregateId: aggregateIdSchema,
  seq: z.int().check(z.minimum(1)),
  messageId: idSchema,
  /** The message envelope (`Message.toJSON()`); the edge validates it like any other client envelope. */
  command: z.unknown(),
});

/** `POST <sync>/push`: commands in the order they were made. */
export const pushRequestSchema = z.object({
  protocol: protocolSchema,
  clientId: clientIdSchema,
  commands: z.array(pushedCommandSchema).check(z.maxLength(SYNC_LIMITS.maxCommands)),
});

export const pushResultSchema = z.object({
  messageId: z.string(),
  status: z.enum(["applied", "rejected", "retry", "not_processed"]),
  response: z.nullable(responseSchema),
});

/** The push answer: one result per command, in the same order. */
export const pushReplySchema = z.object({ protocol: protocolSchema, results: z.array(pushResultSchema) });

const cursorSchema = z.object({
  aggregate: nameSchema,
  id: aggregateIdSchema,
  /** The client's confirmed version of the aggregate: changes start after it (-1 = from the start). */
  after: z.int().check(z.minimum(-1)),
  /** The client's sequence on the aggregate as the edge last reported it: an unchanged one is not sent again. */
  seq: z.optional(z.int().check(z.minimum(0))),
});

/** `POST <sync>/changes`: one request for everything the client tracks (a cursor vector). */
export const changesRequestSchema = z.object({
  protocol: protocolSchema,
  clientId: clientIdSchema,
  cursors: z.array(cursorSchema).check(z.maxLength(SYNC_LIMITS.maxCursors)),
  /** Most events in the answer, roughly: aggregates read in parallel each get a share. @default 5_000 */
  limit: z.optional(z.int().check(z.minimum(1), z.maximum(10_000))),
});

const recordedEventSchema = z.object({
  stream: z.string(),
  version: z.int(),
  position: z.int(),
  type: z.string(),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()),
  recordedAt: z.number(),
});

const aggregateChangesSchema = z.object({
  aggregate: z.string(),
  id: z.string(),
  /** Confirmed events after the cursor, in version order. */
  events: z.array(recordedEventSchema),
  /** The aggregate's version on the edge when the page was read. */
  version: z.int(),
  /**
   * The client's last recorded sequence number on this aggregate, read together with the events: only
   * set when `events` reach `version` (then every command up to `seq` has its effects in the events).
   */
  seq: z.optional(z.int()),
});

const changesErrorSchema = z.object({
  aggregate: z.string(),
  id: z.string(),
  code: z.string(),
  message: z.string(),
});

/** The changes answer: every aggregate that has news, errors per aggregate, and whether to ask again. */
export const changesReplySchema = z.object({
  protocol: protocolSchema,
  changes: z.array(aggregateChangesSchema),
  errors: z.array(changesErrorSchema),
  /** Some cursors were not served (the answer was full): ask again with the new cursors. */
  more: z.boolean(),
});

/** A refusal of a whole sync request: the body of every non-2xx answer. */
export const syncErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.optional(z.unknown()) }),
});

/** The body of `POST <sync>/push`: the client's id and its commands, in the order they were made. */
export type PushRequest = z.infer<typeof pushRequestSchema>;
/** One pushed command: aggregate and id, its `seq` (from 1) in the client's sequence there, and the envelope. */
export type PushedCommand = z.infer<typeof pushedCommandSchema>;
/** The body of `POST <sync>/changes`: the client's id, a cursor per tracked aggregate, and an optional `limit`. */
export type ChangesRequest = z.infer<typeof changesRequestSchema>;
/** Where a client stands on an aggregate: changes start `after` this version (-1: all); `seq` as last reported. */
export type SyncCursor = z.infer<typeof cursorSchema>;

/** One pushed command's outcome (see `ClientCommandStatus`). */
export interface PushResult {
  readonly messageId: string;
  readonly status: ClientCommandStatus;
  readonly response: Response | null;
}

/** The answer to a push: one result per command, in the order pushed. */
export interface PushReply {
  readonly protocol: typeof SYNC_PROTOCOL_VERSION;
  readonly results: readonly PushResult[];
}

/** What one aggregate sends back for a changes request. */
export interface AggregateChanges {
  readonly aggregate: string;
  readonly id: string;
  readonly events: readonly RecordedEvent[];
  readonly version: number;
  readonly seq?: number;
}

/** Why one aggregate of a changes request was not served (e.g. `FORBIDDEN`, `UNKNOWN_AGGREGATE`). */
export interface ChangesError {
  readonly aggregate: string;
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

/** The answer to a changes request: news and refusals per aggregate; `more` when some cursors were not served. */
export interface ChangesReply {
  readonly protocol: typeof SYNC_PROTOCOL_VERSION;
  readonly changes: readonly AggregateChanges[];
  readonly errors: readonly ChangesError[];
  readonly more: boolean;
}
