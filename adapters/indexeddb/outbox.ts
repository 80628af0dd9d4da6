import type { AggregateRoute, MessageData, Response } from "../../src/index.ts";

/** Where the offline client keeps commands waiting for the edge (one row per command, never one blob). */
export const OUTBOX_STORE = "x3m_outbox";
/** Small rows of sync bookkeeping: the client id, sequence counters, change stamps, status, tracked aggregates. */
export const SYNC_STORE = "x3m_sync";

/**
 * A command executed locally and waiting for (or answered by) the edge. Its tentative events live on the
 * row, apart from the confirmed ones, so a pull replaces them in one transaction, and a rebase re-runs the
 * command on the newest confirmed state and rewrites them.
 * - `pending`: not yet answered by the edge;
 * - `applied`: the edge applied it; the row goes once the changes feed reports its sequence;
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
  /** The command's place in this client's sequence on the aggregate (1, 2, 3…): what makes it exactly once. */
  readonly clientSeq: number;
  /** How the command runs (flow, command, id field): a rebase runs it again. */
  readonly route: AggregateRoute;
  /** The request as the edge will run it. */
  readonly command: MessageData;
  /** Tentative events: what the command did locally, on the state it last ran on. */
  readonly events: readonly unknown[];
  /** What the local run answered. */
  readonly localResponse: Response | null;
  /**
   * Set when a rebase made the command fail locally (e.g. the confirmed state moved and a withdraw no
   * longer fits): it stays pending, as the edge decides, but the app can warn early.
   */
  readonly localFailure?: Response;
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

/** A tracked aggregate: its changes are asked for on every sync even without local commands. */
export interface TrackRow {
  readonly key: string;
  readonly aggregate: string;
  readonly aggregateId: string;
  readonly stream: string;
  /** This client's last sequence on the aggregate as the edge reported it with complete changes (0 = none). */
  readonly edgeSeq: number;
}

/** This database's client id: random, made once, shared by every tab of the database. */
export interface ClientIdRow {
  readonly key: "client";
  readonly clientId: string;
}

/** The last sequence number given to a command of one stream. */
export interface SequenceRow {
  readonly key: string;
  readonly last: number;
}

/** A stream's change stamp: bumped by every write that changes its view, so tabs know when to re-read it. */
export interface StampRow {
  readonly key: string;
  readonly stamp: number;
}

export const trackKey = (aggregate: string, aggregateId: string) => `track:${aggregate}:${aggregateId}`;
export const sequenceKey = (stream: string) => `seq:${stream}`;
export const stampKey = (stream: string) => `stamp:${stream}`;

/**
 * Whether a row's tentative events count in the view: not rejected, and not already processed by the edge
 * (its sequence reported): its effects are then in the confirmed events, and only its answer is awaited.
 */
export function countsInView(row: OutboxRow, edgeSeq: number): boolean {
  return row.status !== "rejected" && row.clientSeq > edgeSeq;
}
