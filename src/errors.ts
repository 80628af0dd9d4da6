/** Every code an `SdkClientError` can carry, as one `as const` map so it can be switched on exhaustively. */
export const SdkErrorCode = {
  INVALID_MESSAGE: "INVALID_MESSAGE",
  INVALID_FRAME: "INVALID_FRAME",
  FRAME_TOO_LARGE: "FRAME_TOO_LARGE",
  FORBIDDEN_KEY: "FORBIDDEN_KEY",
  ASYNC_SCHEMA: "ASYNC_SCHEMA",
  INVALID_ROUTER: "INVALID_ROUTER",
  DUPLICATE_SERVICE: "DUPLICATE_SERVICE",
  INVALID_NODE_ID: "INVALID_NODE_ID",
  NODE_CLOSED: "NODE_CLOSED",
  INVALID_OPTIONS: "INVALID_OPTIONS",
  INVALID_SCHEDULE: "INVALID_SCHEDULE",
  /** The browser refused to store more (IndexedDB quota); nothing of the failed write was kept. */
  STORAGE_QUOTA_EXCEEDED: "STORAGE_QUOTA_EXCEEDED",
  /** A storage write or read failed (aborted transaction, closed connection); nothing was half-written. */
  STORAGE_FAILED: "STORAGE_FAILED",
} as const;

export type SdkErrorCode = (typeof SdkErrorCode)[keyof typeof SdkErrorCode];

/**
 * The one error class the SDK throws. Expected failures (a service that is unavailable, a timeout, a
 * validation error) are never thrown: they are `Response` values on the returned message.
 *
 * @example
 * try { Message.parse(untrusted) } catch (e) { if (isSdkClientError(e) && e.code === "INVALID_MESSAGE") … }
 */
export class SdkClientError extends Error {
  override readonly name = "SdkClientError";
  readonly code: SdkErrorCode;
  /** JSON-safe detail, e.g. the validation issues of a rejected message. */
  readonly details: unknown;

  constructor(code: SdkErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  /** Wraps anything thrown into an `SdkClientError`, keeping the original as `cause`. */
  static from(error: unknown, code: SdkErrorCode = SdkErrorCode.INVALID_MESSAGE): SdkClientError {
    if (error instanceof SdkClientError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new SdkClientError(code, message, { cause: error });
  }
}

/** Type guard for `SdkClientError`. */
export function isSdkClientError(error: unknown): error is SdkClientError {
  return error instanceof SdkClientError;
}

/** The result of an operation that can fail in normal use. */
export type Result<TValue, TError = SdkClientError> =
  | { ok: true; value: TValue; error?: never }
  | { ok: false; value?: never; error: TError };

/** JSON-safe description of something thrown (a handler's exception, a transport's failure). */
export function describeError(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: "Error", message: String(error) };
}
