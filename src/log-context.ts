/** Structured log context carried by every message (the original's `logger_metadata`). */
export type LogContext = Readonly<Record<string, unknown>>;

/**
 * Where the "current" log context lives. The default only sees synchronous code; on Node and
 * Workers pass an `AsyncLocalStorage` so the context follows `await`s.
 *
 * @example
 * import { AsyncLocalStorage } from "node:async_hooks";
 * const als = new AsyncLocalStorage<LogContext>();
 * setLogContextStorage({ get: () => als.getStore() ?? {}, run: (ctx, fn) => als.run(ctx, fn) });
 */
export interface LogContextStorage {
  /** The current log context (`{}` when none). */
  get(): LogContext;
  /** Runs `fn` with `context` as the current one, then restores the previous; answers `fn`'s result. */
  run<TResult>(context: LogContext, fn: () => TResult): TResult;
}

const EMPTY: LogContext = Object.freeze({});

function synchronousStorage(): LogContextStorage {
  let current: LogContext = EMPTY;
  return {
    get: () => current,
    run(context, fn) {
      const previous = current;
      current = context;
      try {
        return fn();
      } finally {
        current = previous;
      }
    },
  };
}

let storage: LogContextStorage = /* @__PURE__ */ synchronousStorage();

/** Replaces where the current log context is kept (see `LogContextStorage`). */
export function setLogContextStorage(next: LogContextStorage): void {
  storage = next;
}

/** The log context of the code running now: what `Message.new` captures by default. */
export function currentLogContext(): LogContext {
  return storage.get();
}

/** Runs `fn` with `context` as the current log context; routers use it around every handler. */
export function runWithLogContext<TResult>(context: LogContext, fn: () => TResult): TResult {
  return storage.run(context, fn);
}

/**
 * @internal Runs `fn(first, second)` in `context`: directly when `context` is already the current one (entering the
 * context that is current changes nothing, and skips a closure and the storage's bookkeeping on the
 * dispatcher's hot path).
 */
export function callInLogContext<TFirst, TSecond, TResult>(
  context: LogContext,
  fn: (first: TFirst, second: TSecond) => TResult,
  first: TFirst,
  second: TSecond,
): TResult {
  return context === storage.get() ? fn(first, second) : storage.run(context, () => fn(first, second));
}
