import { type Clock, systemClock } from "../clock.ts";
import type { Response } from "../response.ts";
import { cloneData } from "./clone-data.ts";
import {
  type AppendOptions,
  type CommandAnswer,
  type EventStore,
  eventTypeOf,
  type RecordedEvent,
  type Snapshot,
  satisfiesExpectedVersion,
  wrongExpectedVersion,
} from "./event-store.ts";

const DEFAULT_LIMIT = 1_000;

/**
 * The in-memory event store: the reference implementation of the contract, for tests and for
 * single-process apps. Events are deep-copied in and out (as `structuredClone` copies them), as a real store would.
 *
 * @example
 * import { createMemoryEventStore } from "x3m-system";
 * const store = createMemoryEventStore();
 * await store.append("account-1", [{ type: "Opened" }], { expectedVersion: "no_stream" });
 */
export function createMemoryEventStore(options: { clock?: Clock } = {}): EventStore {
  const clock = options.clock ?? systemClock;
  const log: RecordedEvent[] = [];
  const streams = new Map<string, RecordedEvent[]>();
  const snapshots = new Map<string, Snapshot[]>();
  const listeners = new Set<(events: readonly RecordedEvent[]) => void>();
  /** Per stream: every command's answer (with or without events) and every client's last sequence. */
  const answers = new Map<string, Map<string, Response>>();
  const clients = new Map<string, Map<string, number>>();

  const keep = (stream: string, answer: CommandAnswer, response: Response) => {
    const byMessage = answers.get(stream) ?? new Map<string, Response>();
    answers.set(stream, byMessage);
    if (!byMessage.has(answer.messageId)) byMessage.set(answer.messageId, response);
    if (answer.client) {
      const byClient = clients.get(stream) ?? new Map<string, number>();
      clients.set(stream, byClient);
      byClient.set(answer.client.clientId, answer.client.seq);
    }
  };

  const versionOf = (stream: string) => (streams.get(stream)?.length ?? 0) - 1;

  return {
    async has(stream) {
      return versionOf(stream) >= 0;
    },
    async version(stream) {
      return versionOf(stream);
    },
    async read(stream, { from = 0, limit = DEFAULT_LIMIT } = {}) {
      return cloneData((streams.get(stream) ?? []).slice(Math.max(0, from), Math.max(0, from) + limit));
    },
    async readAll({ after = 0, limit = DEFAULT_LIMIT } = {}) {
      // Positions are 1-based and gapless, so position p lives at log[p - 1].
      return cloneData(log.slice(Math.max(0, after), Math.max(0, after) + limit));
    },
    async lastPosition() {
      return log.length;
    },
    async append(stream, events, { expectedVersion = "any", metadata = {}, answer }: AppendOptions = {}) {
      const existing = streams.get(stream);
      const actual = (existing?.length ?? 0) - 1;
      if (!satisfiesExpectedVersion(expectedVersion, actual))
        return wrongExpectedVersion(stream, expectedVersion, actual);
      const stored = answer ? { ...metadata, messageId: answer.messageId, response: answer.response } : metadata;
      // Events and metadata are copied before anything is written: what cannot be cloned fails the append cleanly.
      const copies = cloneData(events as unknown[]);
      const metadataCopy = cloneData(stored);
      const recordedAt = clock.now();
      const recorded: RecordedEvent[] = [];
      for (let i = 0; i < copies.length; i++) {
        const data = copies[i];
        recorded.push({
          stream,
          version: actual + 1 + i,
          position: log.length + 1 + i,
          type: eventTypeOf(data),
          data,
          // Each event its own metadata object; the nested values were copied once, above.
          metadata: i === 0 ? metadataCopy : { ...metadataCopy },
          recordedAt,
        });
      }
      const streamEvents = existing ?? [];
      if (!existing) streams.set(stream, streamEvents);
      for (const event of recorded) {
        streamEvents.push(event);
        log.push(event);
      }
      if (answer) keep(stream, answer, metadataCopy.response as Response);
      if (recorded.length > 0 && listeners.size > 0) {
        const published = cloneData(recorded);
        for (const listener of listeners) {
          try {
            listener(published);
          } catch {
            // A subscriber is only a hint (see EventSource.subscribe): its failure never fails the append.
          }
        }
      }
      return {
        ok: true,
        version: actual + recorded.length,
        firstPosition: log.length - recorded.length + 1,
        lastPosition: log.length,
      };
    },
    async deleteStream(stream, { expectedVersion = "any" } = {}) {
      const actual = versionOf(stream);
      if (!satisfiesExpectedVersion(expectedVersion, actual))
        return wrongExpectedVersion(stream, expectedVersion, actual);
      streams.delete(stream);
      snapshots.delete(stream);
      return { ok: true, version: -1, firstPosition: log.length, lastPosition: log.length };
    },
    async saveSnapshot(stream, snapshot) {
      // Only the latest snapshot of each schema version is ever read, so only that one is kept.
      const kept = (snapshots.get(stream) ?? []).filter(
        (existing) => existing.schemaVersion !== snapshot.schemaVersion || existing.version > snapshot.version,
      );
      if (!kept.some((existing) => existing.schemaVersion === snapshot.schemaVersion)) kept.push(cloneData(snapshot));
      snapshots.set(stream, kept);
    },
    async loadSnapshot(stream, { schemaVersion }) {
      const found = (snapshots.get(stream) ?? []).find((snapshot) => snapshot.schemaVersion === schemaVersion);
      return found && cloneData(found);
    },
    async recordAnswer(stream, answer) {
      keep(stream, answer, cloneData(answer.response));
    },
    async findAnswer(stream, messageId) {
      const found = answers.get(stream)?.get(messageId);
      return found && cloneData(found);
    },
    async clientSequence(stream, clientId) {
      return clients.get(stream)?.get(clientId) ?? 0;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
