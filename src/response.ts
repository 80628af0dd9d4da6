import { SdkClientError, SdkErrorCode } from "./errors.ts";

/** A validation issue, JSON-safe: where (`path`) and what (`message`). */
export interface ValidationIssue {
  readonly message: string;
  readonly path: ReadonlyArray<string | number>;
}

/** One provider that asked for another node, or failed, and why. */
export interface TriedNode {
  readonly node: string;
  readonly reason: unknown;
}

export interface OkResponse {
  readonly status: "ok";
  readonly payload?: unknown;
  readonly version?: number;
}
export interface CreatedResponse {
  readonly status: "created";
  readonly id: string;
  readonly version?: number;
}
export interface ServiceUnavailableResponse {
  readonly status: "service_unavailable";
  readonly service: string;
  /**
   * `true` when the answering node has never heard of the service (no router there registered it and no
   * peer announced it since the node started): most likely a mistyped name, not an outage. Absent: the
   * service is known but no provider can be reached now.
   */
  readonly unknown?: true;
}
export interface ServiceTimeoutResponse {
  readonly status: "service_timeout";
  readonly service: string;
  readonly messageId: string;
  readonly timeoutMs: number;
}
export interface ValidationErrorResponse {
  readonly status: "validation_error";
  readonly issues: readonly ValidationIssue[];
}
export interface MissingIdResponse {
  readonly status: "missing_id";
  readonly field: string;
}
export interface UnauthorizedResponse {
  readonly status: "unauthorized";
  readonly reason?: string;
}
export interface ErrorResponse {
  readonly status: "error";
  readonly reason: unknown;
  /**
   * `true` when a router's `authorize` refused the call (whatever the `reason`), so a denial can be told
   * from a handler's error (the edge answers it 403). Absent on every other error.
   */
  readonly denied?: true;
}
export interface TryAnotherNodeResponse {
  readonly status: "try_another_node";
  readonly reason: unknown;
}
export interface NoNodesAvailableResponse {
  readonly status: "no_nodes_available";
  readonly tried: readonly TriedNode[];
}
export interface NotFoundResponse {
  readonly status: "not_found";
}
export interface WrongExpectedVersionResponse {
  readonly status: "wrong_expected_version";
  readonly expected: number;
  readonly actual: number;
}
export interface AlreadyExistsResponse {
  readonly status: "already_exists";
}

/** Every answer a service or the dispatcher can give, discriminated by `status`. */
export type Response =
  | OkResponse
  | CreatedResponse
  | ServiceUnavailableResponse
  | ServiceTimeoutResponse
  | ValidationErrorResponse
  | MissingIdResponse
  | UnauthorizedResponse
  | ErrorResponse
  | TryAnotherNodeResponse
  | NoNodesAvailableResponse
  | NotFoundResponse
  | WrongExpectedVersionResponse
  | AlreadyExistsResponse;

export type ResponseStatus = Response["status"];

/** The response shape with the given status. */
export type ResponseOf<TStatus extends ResponseStatus> = Extract<Response, { status: TStatus }>;

function guard<TStatus extends ResponseStatus>(status: TStatus) {
  return (response: unknown): response is ResponseOf<TStatus> =>
    typeof response === "object" && response !== null && (response as { status?: unknown }).status === status;
}

function invalidTimeout(timeoutMs: unknown): never {
  throw new SdkClientError(
    SdkErrorCode.INVALID_OPTIONS,
    `a service_timeout carries the finite limit that expired, not ${String(timeoutMs)}`,
  );
}

/**
 * Constructors and type guards for every `Response` shape.
 *
 * @example
 * import { Response } from "x3m-system";
 * msg.return(Response.created("acc-1", 0));
 * if (Response.isCreated(reply.response)) reply.response.id;
 */
export const Response = {
  ok(payload?: unknown, version?: number): OkResponse {
    if (version !== undefined)
      return payload === undefined ? { status: "ok", version } : { status: "ok", payload, version };
    return payload === undefined ? { status: "ok" } : { status: "ok", payload };
  },
  created(id: string, version?: number): CreatedResponse {
    return version === undefined ? { status: "created", id } : { status: "created", id, version };
  },
  /** No provider can be reached now for a service this node knows of. */
  serviceUnavailable: (service: string): ServiceUnavailableResponse => ({ status: "service_unavailable", service }),
  /** The node has never heard of `service` (`unknown: true`): most likely a mistyped name; the edge answers 404. */
  unknownService: (service: string): ServiceUnavailableResponse => ({
    status: "service_unavailable",
    service,
    unknown: true,
  }),
  /**
   * No answer within `timeoutMs`. Throws `INVALID_OPTIONS` for a limit that is not a finite number ≥ 0: an
   * infinite wait never times out, and every response must survive JSON (`Infinity` would become `null`).
   */
  serviceTimeout(service: string, messageId: string, timeoutMs: number): ServiceTimeoutResponse {
    if (!(Number.isFinite(timeoutMs) && timeoutMs >= 0)) invalidTimeout(timeoutMs);
    return { status: "service_timeout", service, messageId, timeoutMs };
  },
  validationError: (issues: readonly ValidationIssue[]): ValidationErrorResponse => ({
    status: "validation_error",
    issues,
  }),
  missingId: (field: string): MissingIdResponse => ({ status: "missing_id", field }),
  unauthorized: (reason?: string): UnauthorizedResponse =>
    reason === undefined ? { status: "unauthorized" } : { status: "unauthorized", reason },
  error: (reason: unknown): ErrorResponse => ({ status: "error", reason }),
  /**
   * A router's denial: an `error` with the `reason` `authorize` gave, marked `denied: true` so that it reads
   * as a denial whatever the reason (the original has no mark: its denial is `{:error, reason}`).
   */
  denied: (reason: unknown = "forbidden"): ErrorResponse => ({ status: "error", reason, denied: true }),
  /** The router's default denial: `{ status: "error", reason: "forbidden", denied: true }`. */
  forbidden: (): ErrorResponse => ({ status: "error", reason: "forbidden", denied: true }),
  /** Asks the dispatcher to try the next provider (the original's `{:error, {:try_another_node, reason}}`). */
  tryAnotherNode: (reason: unknown): TryAnotherNodeResponse => ({ status: "try_another_node", reason }),
  noNodesAvailable: (tried: readonly TriedNode[]): NoNodesAvailableResponse => ({
    status: "no_nodes_available",
    tried,
  }),
  notFound: (): NotFoundResponse => ({ status: "not_found" }),
  wrongExpectedVersion: (expected: number, actual: number): WrongExpectedVersionResponse => ({
    status: "wrong_expected_version",
    expected,
    actual,
  }),
  alreadyExists: (): AlreadyExistsResponse => ({ status: "already_exists" }),

  /** Generic guard: `Response.is(r, "created")` narrows `r` to `CreatedResponse`. */
  is<TStatus extends ResponseStatus>(response: unknown, status: TStatus): response is ResponseOf<TStatus> {
    return guard(status)(response);
  },
  isOk: guard("ok"),
  isCreated: guard("created"),
  isServiceUnavailable: guard("service_unavailable"),
  isServiceTimeout: guard("service_timeout"),
  isValidationError: guard("validation_error"),
  isMissingId: guard("missing_id"),
  isUnauthorized: guard("unauthorized"),
  isError: guard("error"),
  isTryAnotherNode: guard("try_another_node"),
  isNoNodesAvailable: guard("no_nodes_available"),
  isNotFound: guard("not_found"),
  isWrongExpectedVersion: guard("wrong_expected_version"),
  isAlreadyExists: guard("already_exists"),
  /** True for an `error` with the reason `"forbidden"` (the router's default denial, or a handler's own). */
  isForbidden: (response: unknown): response is ErrorResponse =>
    guard("error")(response) && response.reason === "forbidden",
  /** True for a router's denial, whatever its reason (`denied: true`). */
  isDenied: (response: unknown): response is ErrorResponse => guard("error")(response) && response.denied === true,
  /** True for a `service_unavailable` about a service the node never heard of (`unknown: true`). */
  isUnknownService: (response: unknown): response is ServiceUnavailableResponse =>
    guard("service_unavailable")(response) && response.unknown === true,
} as const;
