import type { LogContext } from "./log-context.ts";

/** Severity of a log entry, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * One structured log entry. `event` is a stable machine-readable name (`"service_not_found"`, …); `context`
 * is the log context of the message concerned (the original's logger metadata), `{}` when none.
 */
export interface LogEntry {
  readonly level: LogLevel;
  readonly event: string;
  /** One human-readable line. */
  readonly message: string;
  readonly context: LogContext;
  /** Facts about the event (service, node, message id, …); JSON-safe. */
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Where the SDK's warnings go. Nodes and aggregate hosts take one as `logger`; without it they log nothing.
 * A logger that throws is ignored (logging never fails a call).
 *
 * @example
 * import { createNode, type Logger } from "x3m-system";
 * const logger: Logger = { log: (entry) => console[entry.level](entry.message, { ...entry.context, ...entry.data }) };
 * const node = createNode({ logger });
 */
export interface Logger {
  /** Writes one entry; synchronous, and what it throws is ignored. */
  log(entry: LogEntry): void;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * The default logger: drops everything.
 *
 * @example
 * import { createNode, silentLogger } from "x3m-system";
 * createNode({ logger: silentLogger }); // the same as leaving `logger` out
 */
export const silentLogger: Logger = { log() {} };

/**
 * A logger that keeps entries at `minLevel` and above and hands them to `sink`.
 *
 * @example
 * import { createNode, levelFilter } from "x3m-system";
 * const node = createNode({ logger: levelFilter("warn", (entry) => myLogger[entry.level](entry)) });
 */
export function levelFilter(minLevel: LogLevel, sink: (entry: LogEntry) => void): Logger {
  const floor = RANK[minLevel];
  return {
    log(entry) {
      if (RANK[entry.level] >= floor) sink(entry);
    },
  };
}

/**
 * @internal Logs one entry and swallows a logger's failure. `context` defaults to `{}`.
 */
export function logTo(
  logger: Logger,
  level: LogLevel,
  event: string,
  message: string,
  details: { context?: LogContext | undefined; data?: Record<string, unknown> } = {},
): void {
  if (logger === silentLogger) return;
  try {
    logger.log({ level, event, message, context: details.context ?? {}, data: details.data ?? {} });
  } catch {
    // A broken logger must never break the call that logged.
  }
}
