import type { MessageData, Response } from "../../src/index.ts";

/** Where the offline client keeps commands waiting for the edge (one row per command, never one blob). */
export const OUTBOX_STORE = "x3m_outbox";
/** Small rows of sync bookkeeping: status, tracked aggregates. */
export const SYNC_STORE = "x3m_sync";

/**
 * A command executed locally and waiting for (or answered by) the edge. Its tentative events live on
 * the row, apart from the confirmed ones, so a pull can replace them in one transaction (field notes H18).
 * - `pending`: not yet accepted by the edge;
 * - `applied`: the edge applied it; the row goes when the pull brings its confirmed events;
 * - `rejected`: the edge refused it; its events no longer count; it stays until the app acknowledges it.
 */
export interface OutboxRow {
  /** Insertion order across every tab: the order commands are pushed in. */
  readonly seq?: number;
  readonly messageId: string;
  /** The aggregate type, as the edge's sync endpoint names it. */
  readonly aggregate: string;
  readonly aggregateId: string;
  readonly stream: string;
  /** The request as the edge will run it. */
  readonly command: MessageData;
  readonly events: readonly unknown[];
  /** What the local execution answered. */
  readonly localResponse: Response | null;
  readonly status: "pending" | "applied" | "rejected";
  /** The edge's answer, once it gave one. */
  readonly response?: Response | null;
  /** The tab that made the command. */
  readonly tab: string;
  readonly createdAt: number;
}

/** What the sync status row holds (written by whichever tab syncs). */
export interface SyncStatusRow {
  readonly key: "status";
  readonly lastSyncAt: number | null;
  readonly lastError: string | null;
}

/** A tracked aggregate: pulled on every sync even without local commands. */
export interface TrackRow {
  readonly key: string;
  readonly aggregate: string;
  readonly aggregateId: string;
}

export const trackKey = (aggregate: string, aggregateId: string) => `track:${aggregate}:${aggregateId}`;
