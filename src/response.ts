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

/** Success: answered by `msg.ok(payload)`, and by an aggregate command with the aggregate's `version` after it. */
export interface OkResponse {
  readonly status: "ok";
  readonly payload?: unknown;
  readonly version?: number;
}
/** A creation: answered by `msg.created(id)`; an aggregate that creates itself adds its first `version`. */
export interface CreatedResponse {
  readonly status: "created";
  readonly id: string;
  readonly version?: number;
}
/** Answered by the dispatcher when no provider of `service` is reachable, or it was never heard of (`unknown`). */
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
/** Answered by the dispatcher when no reply came within `timeoutMs`; the service may still have run the message. */
export interface ServiceTimeoutResponse {
  readonly status: "service_timeout";
  readonly service: string;
  readonly messageId: string;
  readonly timeoutMs: number;
}
/** Answered by `putRequest` (or a sync endpoint) for input the schema refuses: `issues` say where and what. */
export interface ValidationErrorResponse {
  readonly status: "validation_error";
  readonly issues: readonly ValidationIssue[];
}
/** Answered by `prepareAggregateId` when the request has no aggregate id in `field` (and none is generated). */
export interface MissingIdResponse {
  readonly status: "missing_id";
  readonly field: string;
}
/** For a service to refuse a caller (HTTP 403 at the edge); the SDK's own denials are `error`s marked `denied`. */
export interface UnauthorizedResponse {
  readonly status: "unauthorized";
  readonly reason?: string;
}
/** A failure: `msg.error(reason)`, a handler that threw (`{ exception }`), a failed store, or a router's denial. */
export interface ErrorResponse {
  readonly status: "error";
  readonly reason: unknown;
  /**
   * `true` when a router's `authorize` refused the call (whatever the `reason`), so a denial can be told
   * from a handler's error (the edge answers it 403). Absent on every other error.
   */
  readonly denied?: true;
}
/** A provider's request to try the next one (a draining node's answer): the dispatcher moves on, never returns it. */
export interface TryAnotherNodeResponse {
  readonly status: "try_another_node";
  readonly reason: unknown;
}
/** Answered by the dispatcher when every provider failed or asked for another node: `tried` says which and why. */
export interface NoNodesAvailableResponse {
  readonly status: "no_nodes_available";
  readonly tried: readonly TriedNode[];
}
/** Answered by an aggregate command (`on`) for an aggregate that does not exist. */
export interface NotFoundResponse {
  readonly status: "not_found";
}
/** Answered by an aggregate when another writer appended first: `expected` is the version it ran on. */
export interface WrongExpectedVersionResponse {
  readonly status: "wrong_expected_version";
  readonly expected: number;
  readonly actual: number;
}
/** Answered by a creating aggregate command (`onNew`) for an aggregate that already exists. */
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

/** Every `status` a `Response` can carry (`"ok"`, `"created"`, … `"already_exists"`). */
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
  /** An `ok`, with `payload` and `version` only when given. */
  ok(payload?: unknown, version?: number): OkResponse {
    if (version !== undefined)
      return payload === undefined ? { status: "ok", version } : { status: "ok", payload, version };
    return payload === undefined ? { status: "ok" } : { status: "ok", payload };
  },
  /** A `created` for `id`, with `version` only when given. */
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
  /** A `validation_error` with its `issues`. */
  validationError: (issues: readonly ValidationIssue[]): ValidationErrorResponse => ({
    status: "validation_error",
    issues,
  }),
  /** A `missing_id` naming the request `field` the id was expected in. */
  missingId: (field: string): MissingIdResponse => ({ status: "missing_id", field }),
  /** An `unauthorized`, with `reason` only when given. */
  unauthorized: (reason?: string): UnauthorizedResponse =>
    reason === undefined ? { status: "unauthorized" } : { status: "unauthorized", reason },
  /** An `error` with any JSON-safe `reason` (not marked as a denial). */
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
  /** A `no_nodes_available` listing every provider `tried` and why it declined. */
  noNodesAvailable: (tried: readonly TriedNode[]): NoNodesAvailableResponse => ({
    status: "no_nodes_available",
    tried,
  }),
  /** A `not_found`. */
  notFound: (): NotFoundResponse => ({ status: "not_found" }),
  /** A `wrong_expected_version`: the version the command ran on and the stream's actual one. */
  wrongExpectedVersion: (expected: number, actual: number): WrongExpectedVersionResponse => ({
    status: "wrong_expected_version",
    expected,
    actual,
  }),
  /** An `already_exists`. */
  alreadyExists: (): AlreadyExistsResponse => ({ status: "already_exists" }),

  /** Generic guard: `Response.is(r, "created")` narrows `r` to `CreatedResponse`. */
  is<TStatus extends ResponseStatus>(response: unknown, status: TStatus): response is ResponseOf<TStatus> {
    return guard(status)(response);
  },
  /** True for an `ok` response (narrows it to `OkResponse`). */
  isOk: guard("ok"),
  /** True for a `created` response (narrows it to `CreatedResponse`). */
  isCreated: guard("created"),
  /** True for a `service_unavailable` response (narrows it to `ServiceUnavailableResponse`). */
  isServiceUnavailable: guard("service_unavailable"),
  /** True for a `service_timeout` response (narrows it to `ServiceTimeoutResponse`). */
  isServiceTimeout: guard("service_timeout"),
  /** True for a `validation_error` response (narrows it to `ValidationErrorResponse`). */
  isValidationError: guard("validation_error"),
  /** True for a `missing_id` response (narrows it to `MissingIdResponse`). */
  isMissingId: guard("missing_id"),
  /** True for an `unauthorized` response (narrows it to `UnauthorizedResponse`). */
  isUnauthorized: guard("unauthorized"),
  /** True for an `error` response (narrows it to `ErrorResponse`). */
  isError: guard("error"),
  /** True for a `try_another_node` response (narrows it to `TryAnotherNodeResponse`). */
  isTryAnotherNode: guard("try_another_node"),
  /** True for a `no_nodes_available` response (narrows it to `NoNodesAvailableResponse`). */
  isNoNodesAvailable: guard("no_nodes_available"),
  /** True for a `not_found` response (narrows it to `NotFoundResponse`). */
  isNotFound: guard("not_found"),
  /** True for a `wrong_expected_version` response (narrows it to `WrongExpectedVersionResponse`). */
  isWrongExpectedVersion: guard("wrong_expected_version"),
  /** True for an `already_exists` response (narrows it to `AlreadyExistsResponse`). */
  isAlreadyExists: guard("already_exists"),
  /** True for an `error` with the reason `"forbidden"` (the router's default denial, or a handler's own). */
  isForbidden: (response: unknown): response is ErrorResponse =>
    guard("error")(response) && response.reason === "forbidden",
  /** True for a router's denial, whatever its reason (`denied: true`). */
  isDenied: (response: unknown): response is ErrorResponse => guard("error")(response) && response.denied === true,
  /** True for a `service_unavailable` about a service the node never heard of (`unknown: true`). */
  isUnknownService: (response: unknown): response is ServiceUnavailableResponse =>
    guard("service_unavailable")(response) && response.unknown === true,
  /**
   * True for an aggregate host's storage failure (`{ status: "error", reason: { code: "load_failed" |
   * "save_failed", message } }`): nothing was changed or recorded, so the same message may be sent again.
   */
  isStorageFailure: (response: unknown): response is ErrorResponse => {
    if (!guard("error")(response)) return false;
    const code = (response.reason as { code?: unknown } | null)?.code;
    return code === "load_failed" || code === "save_failed";
  },
} as const;
