/**
 * The event-store contract every adapter implements (memory, Durable Object SQLite, IndexedDB).
 *
 * Numbering, decided once (other event stores disagree, and clients then have to normalise): a stream's first event has version 0 and a stream that does
 * not exist has version -1 (the original's convention); the global log's first event has position 1, so
 * "nothing processed" is position 0. Both are JS numbers: exact up to 2^53, and what SQLite and
 * IndexedDB keys give back without conversion.
 */

/** What `append` checks before writing: an exact version, or one of the named conditions. */
export type ExpectedVersion =
  /** The stream's current version must be exactly this (-1 = the stream must not exist). */
  | number
  /** The stream must not exist. */
  | "no_stream"
  /** The stream must exist. */
  | "stream_exists"
  /** No check. */
  | "any";

import type { Response } from "../response.ts";

/** Metadata stored with each event; `messageId` makes command idempotency survive replays. */
export interface EventMetadata {
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly [key: string]: unknown;
}

/** An event as stored. `data` is the event exactly as appended (JSON-safe). */
export interface RecordedEvent<TEvent = unknown> {
  readonly stream: string;
  /** 0-based, contiguous within the stream. */
  readonly version: number;
  /** 1-based, contiguous across the whole store. */
  readonly position: number;
  /** `data.type` when the event has a string `type`, else `"unknown"`. */
  readonly type: string;
  readonly data: TEvent;
  readonly metadata: EventMetadata;
  /** Epoch ms, from the store's clock. */
  readonly recordedAt: number;
}

/** The result of `append`: the new version and positions, or a conflict carrying the actual version. */
export type AppendResult =
  | { readonly ok: true; readonly version: number; readonly firstPosition: number; readonly lastPosition: number }
  | { readonly ok: false; readonly error: WrongExpectedVersion };

/** Why `append` or `deleteStream` refused: the stream's version did not satisfy the expected one. */
export interface WrongExpectedVersion {
  readonly code: "wrong_expected_version";
  readonly stream: string;
  readonly expected: ExpectedVersion;
  /** The stream's version when the append was refused (-1 = no stream). */
  readonly actual: number;
}

/** Options of `append`: the version check, metadata for every event, and the command's answer to record. */
export interface AppendOptions {
  /** @default "any" */
  readonly expectedVersion?: ExpectedVersion;
  /** Merged into every appended event's metadata. */
  readonly metadata?: EventMetadata;
  /**
   * The answer of the command that produced these events, recorded in the same atomic step: afterwards
   * `findAnswer(stream, answer.messageId)` returns `answer.response` (the events' metadata carry
   * `messageId` and `response`), and `clientSequence(stream, answer.client.clientId)` is `answer.client.seq`.
   */
  readonly answer?: CommandAnswer;
}

/**
 * Which offline client pushed a command, and the command's place in that client's contiguous sequence on
 * one stream (1, 2, 3…): the store keeps the last one per client and stream, so a re-pushed command is
 * recognised however long ago it ran.
 */
export interface ClientSequence {
  readonly clientId: string;
  readonly seq: number;
}

/**
 * How a command was answered, kept by the store so that a re-delivered command gets the same answer
 * instead of running again, with no window: the answer lives as long as the stream's storage.
 *
 * @example
 * await store.recordAnswer("account-1", { messageId: msg.id, response: { status: "validation_error", issues } });
 * await store.findAnswer("account-1", msg.id); // { status: "validation_error", issues }
 */
export interface CommandAnswer {
  readonly messageId: string;
  readonly response: Response;
  /** Set for commands pushed by an offline client: its sequence on the stream moves to `seq` atomically. */
  readonly client?: ClientSequence;
}

/** Which page of one stream `read` returns, by version. */
export interface ReadOptions {
  /** First version to return. @default 0 */
  readonly from?: number;
  /** This many events, or fewer only at the end of the stream (a short page means "no more"). @default 1_000 */
  readonly limit?: number;
}

/** Which page of the global log `readAll` returns, by position. */
export interface ReadAllOptions {
  /** Return events with a position greater than this. @default 0 */
  readonly after?: number;
  /** This many events, or fewer only at the end of the log (a short page means "no more"). @default 1_000 */
  readonly limit?: number;
}

/** A snapshot of an aggregate's state at a version; `schemaVersion` invalidates old shapes. */
export interface Snapshot<TState = unknown> {
  readonly version: number;
  readonly schemaVersion: number;
  readonly state: TState;
}

/** Reading the global log in position order: what projectors and sync consume. */
export interface EventSource {
  /** Events after a global position, in position order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** The highest position written so far (0 when empty). */
  lastPosition(): Promise<number>;
  /**
   * Calls `listener` with newly committed events, in position order per call. A hint for low latency
   * only: consumers must tolerate missed and repeated calls and re-read with `readAll`.
   */
  subscribe?(listener: (events: readonly RecordedEvent[]) => void): () => void;
}

/**
 * The event store. Every method is async; `append` is atomic: all of its events or none, with
 * contiguous versions and positions, and the expected version checked in the same step.
 */
export interface EventStore extends EventSource {
  /** Whether the stream exists (has at least one event and was not deleted). */
  has(stream: string): Promise<boolean>;
  /** The stream's current version: -1 when it does not exist. */
  version(stream: string): Promise<number>;
  /** A page of the stream in version order. */
  read(stream: string, options?: ReadOptions): Promise<RecordedEvent[]>;
  /**
   * Appends `events` to the stream (creating it) after checking `expectedVersion`, all or none; answers the
   * new version and positions, or `wrong_expected_version` with the actual version.
   */
  append(stream: string, events: readonly unknown[], options?: AppendOptions): Promise<AppendResult>;
  /**
   * Removes the stream (its name can be used again from version 0) and its snapshots. The global log
   * keeps the events, so positions stay gapless for projectors that already saw them.
   */
  deleteStream(stream: string, options?: { readonly expectedVersion?: ExpectedVersion }): Promise<AppendResult>;
  /** Keeps `snapshot` as the latest of its `schemaVersion` (one older than the kept one is dropped). */
  saveSnapshot(stream: string, snapshot: Snapshot): Promise<void>;
  /** The latest snapshot with this `schemaVersion`; snapshots of another schema are ignored. */
  loadSnapshot(stream: string, options: { readonly schemaVersion: number }): Promise<Snapshot | undefined>;
  /**
   * Records the answer of a command that appended nothing (a refusal, or a success with no events) and,
   * for a client's command, moves that client's sequence: in one atomic step. Recording an answer for a
   * message that already has one keeps the first.
   */
  recordAnswer(stream: string, answer: CommandAnswer): Promise<void>;
  /** The answer recorded for `messageId` on `stream` (with events or without), or `undefined`. */
  findAnswer(stream: string, messageId: string): Promise<Response | undefined>;
  /** The last sequence number recorded for `clientId` on `stream`; 0 when there is none. */
  clientSequence(stream: string, clientId: string): Promise<number>;
}

/** The `type` recorded for an event: its string `type` field, else `"unknown"`. */
export function eventTypeOf(event: unknown): string {
  const type = typeof event === "object" && event !== null ? (event as { type?: unknown }).type : undefined;
  return typeof type === "string" ? type : "unknown";
}

/** Whether `actual` satisfies `expected`. */
export function satisfiesExpectedVersion(expected: ExpectedVersion, actual: number): boolean {
  switch (expected) {
    case "any":
      return true;
    case "no_stream":
      return actual === -1;
    case "stream_exists":
      return actual >= 0;
    default:
      return expected === actual;
  }
}

/** The refusal `append` and `deleteStream` answer when the expected version does not hold. */
export function wrongExpectedVersion(stream: string, expected: ExpectedVersion, actual: number): AppendResult {
  return { ok: false, error: { code: "wrong_expected_version", stream, expected, actual } };
}
