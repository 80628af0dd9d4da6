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
  serviceUnavailable: (service: string): ServiceUnavailableResponse => ({ status: "service_unavailable", service }),
  serviceTimeout: (service: string, messageId: string, timeoutMs: number): ServiceTimeoutResponse => ({
    status: "service_timeout",
    service,
    messageId,
    timeoutMs,
  }),
  validationError: (issues: readonly ValidationIssue[]): ValidationErrorResponse => ({
    status: "validation_error",
    issues,
  }),
  missingId: (field: string): MissingIdResponse => ({ status: "missing_id", field }),
  unauthorized: (reason?: string): UnauthorizedResponse =>
    reason === undefined ? { status: "unauthorized" } : { status: "unauthorized", reason },
  error: (reason: unknown): ErrorResponse => ({ status: "error", reason }),
  /** The router's default denial: `{ status: "error", reason: "forbidden" }`. */
  forbidden: (): ErrorResponse => ({ status: "error", reason: "forbidden" }),
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
  /** True for `{ status: "error", reason: "forbidden" }`, the router's default denial. */
  isForbidden: (response: unknown): response is ErrorResponse =>
    guard("error")(response) && response.reason === "forbidden",
} as const;
