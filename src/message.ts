import { systemClock } from "./clock.ts";
import { type Result, SdkClientError, SdkErrorCode } from "./errors.ts";
import { FORBIDDEN_KEYS, isValidName, messageIdAt } from "./ids.ts";
import { currentLogContext, type LogContext } from "./log-context.ts";
import { normalizeTraceparent } from "./mesh/trace-context.ts";
import { Response } from "./response.ts";
import { assertNoForbiddenKeys } from "./safe-json.ts";
import type { StandardSchemaV1 } from "./standard-schema.ts";
import { type MessageWireData, messageDataSchema, toValidationIssues } from "./wire-schema.ts";

/** `false` runs normally; `true` runs without persisting; `"verbose"` also returns the would-be events. */
export type DryRun = boolean | "verbose";

/** The request as received (HTTP params, form fields…). */
// biome-ignore lint/suspicious/noExplicitAny: raw input is untyped by nature; `putRequest` gives it a type.
export type RawRequest = Readonly<Record<string, any>>;

/** Aggregate bookkeeping: `id` (set by `prepareAggregateId`) and `version` (set by the aggregate host). */
export interface AggregateMeta {
  readonly id?: string;
  readonly version?: number;
}

/** The plain, JSON-safe shape of a message: what `toJSON()` returns and `Message.parse` accepts. */
export interface MessageData<TRequest = unknown> {
  readonly serviceName: string;
  readonly id: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly logContext: LogContext;
  /** Epoch ms; set again by the dispatcher when the message is dispatched. */
  readonly invokedAt: number;
  readonly dryRun: DryRun;
  readonly rawRequest: RawRequest;
  /** The validated request; set by `putRequest`, `undefined` before (and when invalid). */
  readonly request: TRequest;
  /** False only after `putRequest` found the raw request invalid. */
  readonly valid: boolean;
  readonly assigns: Readonly<Record<string, unknown>>;
  readonly response: Response | null;
  /** Events produced while handling, always in the order they were added. */
  readonly events: readonly unknown[];
  readonly aggregateMeta: AggregateMeta;
  /** Id of the node that first dispatched the message. */
  readonly originNode: string | null;
  /** True once a response is set: the message goes back to the caller without further processing. */
  readonly halted: boolean;
  /**
   * The W3C trace context the message is handled in (`00-<trace id>-<span id>-<flags>`); the dispatcher
   * makes one when it is missing. Invalid values from the wire are dropped.
   */
  readonly traceparent?: string;
}

/** What `Message.new` can set; every other field starts at its default (see `MessageData`). */
export interface NewMessageOptions {
  /** @default a new UUIDv7 */
  id?: string;
  /** @default the message's own id */
  correlationId?: string;
  /** @default the message's own id */
  causationId?: string;
  /** @default {} */
  rawRequest?: RawRequest;
  /** @default false */
  dryRun?: DryRun;
  /** @default the current log context (see `setLogContextStorage`) */
  logContext?: LogContext;
  /** A W3C `traceparent` to continue a trace (e.g. an incoming HTTP request's). @default a new trace, made at dispatch */
  traceparent?: string;
}

function invalid(message: string, details?: unknown): SdkClientError {
  return new SdkClientError(SdkErrorCode.INVALID_MESSAGE, message, { details });
}

function assertKey(key: string): void {
  if (typeof key !== "string" || FORBIDDEN_KEYS.has(key)) throw invalid(`"${String(key)}" cannot be used as a key`);
}

function assertDryRun(dryRun: unknown): asserts dryRun is DryRun {
  if (typeof dryRun !== "boolean" && dryRun !== "verbose") throw invalid('dryRun must be true, false or "verbose"');
}

/**
 * The envelope every service call travels in: ids, the request, the response and the events produced.
 * Immutable: every helper returns a new message.
 *
 * @example
 * import { Message } from "x3m-system";
 * const msg = Message.new("open_account", { rawRequest: { id: "acc-1", owner: "Ada" } });
 * const reply = msg.addEvent({ type: "AccountOpened" }).created("acc-1");
 * reply.halted; // true
 */
export class Message<TRequest = unknown> implements MessageData<TRequest> {
  readonly serviceName: string;
  readonly id: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly logContext: LogContext;
  readonly invokedAt: number;
  readonly dryRun: DryRun;
  readonly rawRequest: RawRequest;
  readonly request: TRequest;
  readonly valid: boolean;
  readonly assigns: Readonly<Record<string, unknown>>;
  readonly response: Response | null;
  readonly events: readonly unknown[];
  readonly aggregateMeta: AggregateMeta;
  readonly originNode: string | null;
  readonly halted: boolean;
  readonly traceparent: string | undefined;

  /** @internal Use `Message.new`, `Message.causedBy` or `Message.parse`. */
  constructor(data: MessageData<TRequest>) {
    this.serviceName = data.serviceName;
    this.id = data.id;
    this.correlationId = data.correlationId;
    this.causationId = data.causationId;
    this.logContext = data.logContext;
    this.invokedAt = data.invokedAt;
    this.dryRun = data.dryRun;
    this.rawRequest = data.rawRequest;
    this.request = data.request;
    this.valid = data.valid;
    this.assigns = data.assigns;
    this.response = data.response;
    this.events = data.events;
    this.aggregateMeta = data.aggregateMeta;
    this.originNode = data.originNode;
    this.halted = data.halted;
    this.traceparent = data.traceparent;
    Object.freeze(this);
  }

  /** Creates a message for `serviceName`. */
  static new(serviceName: string, options: NewMessageOptions = {}): Message {
    if (!isValidName(serviceName)) throw invalid(`"${String(serviceName)}" is not a valid service name`);
    const dryRun = options.dryRun ?? false;
    assertDryRun(dryRun);
    const traceparent = options.traceparent === undefined ? undefined : normalizeTraceparent(options.traceparent);
    if (options.traceparent !== undefined && traceparent === undefined) {
      throw invalid(`"${String(options.traceparent)}" is not a W3C traceparent`);
    }
    const now = systemClock.now();
    const id = options.id || messageIdAt(now);
    return new Message({
      serviceName,
      id,
      correlationId: options.correlationId ?? id,
      causationId: options.causationId ?? id,
      logContext: options.logContext ?? currentLogContext(),
      invokedAt: now,
      dryRun,
      rawRequest: options.rawRequest ?? {},
      request: undefined,
      valid: true,
      assigns: {},
      response: null,
      events: [],
      aggregateMeta: {},
      originNode: null,
      halted: false,
      traceparent,
    });
  }

  /**
   * A child message: new id, the parent's correlation id, the parent's id as causation id, the parent's
   * trace context (its dispatch opens a span whose parent is the span the parent ran in), and the
   * parent's assigns, so it acts on behalf of the same caller (`assigns.principal`) when it is
   * dispatched or scheduled. Pass `assigns` to give it others (`{}` for none, as in the original).
   *
   * @example
   * const deposit = Message.causedBy("deposit", msg, { rawRequest: { id, amount } }); // msg's principal
   */
  static causedBy(
    serviceName: string,
    parent: MessageData,
    options: { rawRequest?: RawRequest; assigns?: Readonly<Record<string, unknown>> } = {},
  ): Message {
    const traceparent = normalizeTraceparent(parent.traceparent);
    const child = Message.new(serviceName, {
      correlationId: parent.correlationId,
      causationId: parent.id,
      ...(options.rawRequest === undefined ? {} : { rawRequest: options.rawRequest }),
      ...(traceparent === undefined ? {} : { traceparent }),
    });
    return child.with({ assigns: { ...(options.assigns ?? parent.assigns) } });
  }

  /**
   * Validates untrusted input (a parsed JSON body, a structured-cloned message) and returns a Message.
   * Throws `SdkClientError` with code `INVALID_MESSAGE` (issues in `details`) or `FORBIDDEN_KEY`.
   */
  static parse(input: unknown): Message {
    if (input instanceof Message) return input;
    assertNoForbiddenKeys(input);
    const parsed = messageDataSchema.safeParse(input);
    if (!parsed.success) {
      const issues = toValidationIssues(parsed.error.issues);
      const first = issues[0];
      throw invalid(
        `invalid message: ${first ? `${first.path.join(".") || "(root)"}: ${first.message}` : "rejected"}`,
        issues,
      );
    }
    return messageFromWire(parsed.data);
  }

  /**
   * Rebuilds a message from `toJSON()` data that crossed only the app's own code, such as a Durable Object
   * RPC from its Worker, whose door (`admitClientMessage`) already validated the client's envelope: no
   * schema, no key walk. Never for data a client could have shaped: use `parse`. Throws `INVALID_MESSAGE`
   * only when `data` has no string `id` and `serviceName`.
   */
  static fromTrusted(data: MessageData): Message {
    if (data instanceof Message) return data;
    if (typeof data?.id !== "string" || typeof data.serviceName !== "string") {
      throw invalid("not a message: a string id and serviceName are required");
    }
    return messageFromWire(data as MessageWireData);
  }

  /** Like `parse`, but returns a `Result` instead of throwing. */
  static safeParse(input: unknown): Result<Message> {
    try {
      return { ok: true, value: Message.parse(input) };
    } catch (error) {
      return { ok: false, error: SdkClientError.from(error) };
    }
  }

  /** The same message addressed to another service (same id, request, assigns and response). */
  toService(serviceName: string): Message<TRequest> {
    if (!isValidName(serviceName)) throw invalid(`"${String(serviceName)}" is not a valid service name`);
    return this.with({ serviceName });
  }

  /** Stores `value` under `key` in `assigns`, for later steps of the pipeline. */
  assign(key: string, value: unknown): Message<TRequest> {
    assertKey(key);
    return this.with({ assigns: { ...this.assigns, [key]: value } });
  }

  /** Sets one field of `rawRequest`. */
  putInRawRequest(key: string, value: unknown): Message<TRequest> {
    assertKey(key);
    return this.with({ rawRequest: { ...this.rawRequest, [key]: value } });
  }

  /**
   * Validates `rawRequest` with a zod (or any Standard Schema) schema. Valid: `request` holds the
   * parsed value. Invalid: `valid` is false and the message is halted with a `validation_error`.
   * Throws `ASYNC_SCHEMA` for schemas that validate asynchronously: use `putRequestAsync`.
   */
  putRequest<TSchema extends StandardSchemaV1>(schema: TSchema): Message<StandardSchemaV1.InferOutput<TSchema>> {
    const result = schema["~standard"].validate(this.rawRequest);
    if (result instanceof Promise) {
      throw new SdkClientError(SdkErrorCode.ASYNC_SCHEMA, "this schema validates asynchronously: use putRequestAsync");
    }
    return this.withValidation(result);
  }

  /** `putRequest` for schemas whose validation is asynchronous. */
  async putRequestAsync<TSchema extends StandardSchemaV1>(
    schema: TSchema,
  ): Promise<Message<StandardSchemaV1.InferOutput<TSchema>>> {
    return this.withValidation(await schema["~standard"].validate(this.rawRequest));
  }

  /** Appends an event; `null` and `undefined` are ignored. */
  addEvent(event: unknown): Message<TRequest> {
    if (event === undefined || event === null) return this;
    const next = fieldsOf(this);
    next.events = [...this.events, event];
    return new Message(next);
  }

  /** Sets the response and halts the message. Events keep their order, however often this is called. */
  return(response: Response): Message<TRequest> {
    const next = fieldsOf(this);
    next.response = response;
    next.halted = true;
    return new Message(next);
  }

  /** `return(Response.ok(payload))`. */
  ok(payload?: unknown): Message<TRequest> {
    return this.return(Response.ok(payload));
  }

  /** `return(Response.created(id))`. */
  created(id: string): Message<TRequest> {
    return this.return(Response.created(id));
  }

  /** `return(Response.error(reason))`. */
  error(reason: unknown): Message<TRequest> {
    return this.return(Response.error(reason));
  }

  /** The same message with another dry-run mode. */
  withDryRun(dryRun: DryRun): Message<TRequest> {
    assertDryRun(dryRun);
    return this.with({ dryRun });
  }

  /**
   * Reads the aggregate id from `rawRequest[idField]` into `aggregateMeta.id`. When it is missing the
   * message is halted with `missing_id`, unless `generateIfMissing`: then the message's own id (unique, and
   * the same on every re-delivery) becomes the aggregate id, written to both.
   */
  prepareAggregateId(idField = "id", options: { generateIfMissing?: boolean } = {}): Message<TRequest> {
    assertKey(idField);
    const value = this.rawRequest[idField];
    if (value !== undefined && value !== null) {
      const next = fieldsOf(this);
      next.aggregateMeta = { ...this.aggregateMeta, id: String(value) };
      return new Message(next);
    }
    if (!options.generateIfMissing) return this.return(Response.missingId(idField));
    // Derived from the message id, not random: a re-delivered creation names the same aggregate.
    const id = this.id;
    return this.with({
      rawRequest: { ...this.rawRequest, [idField]: id },
      aggregateMeta: { ...this.aggregateMeta, id },
    });
  }

  /** The plain JSON-safe data of this message (what travels on the wire). */
  toJSON(): MessageData<TRequest> {
    return fieldsOf(this);
  }

  /**
   * @internal A copy with some fields replaced (a field present in `patch`, even as `undefined`, replaces
   * the message's); the SDK's one way to change a message.
   */
  with<TNext = TRequest>(patch: Partial<MessageData<TNext>>): Message<TNext> {
    return new Message<TNext>(Object.assign(fieldsOf(this as unknown as Message<TNext>), patch));
  }

  private withValidation<TOutput>(result: StandardSchemaV1.Result<TOutput>): Message<TOutput> {
    if (result.issues) {
      return this.with<TOutput>({ valid: false, request: undefined as TOutput }).return(
        Response.validationError(toValidationIssues(result.issues)),
      );
    }
    return this.with<TOutput>({ valid: true, request: result.value });
  }
}

type Fields<TRequest> = { -readonly [K in keyof MessageData<TRequest>]: MessageData<TRequest>[K] };

/**
 * The fields of `message` as a plain object of one fixed shape. Copies start here: spreading a frozen
 * message (or checking a patch for each of its 17 fields) cost several times more than the copy itself,
 * more than a whole local dispatch.
 */
function fieldsOf<TRequest>(message: Message<TRequest>): Fields<TRequest> {
  return {
    serviceName: message.serviceName,
    id: message.id,
    correlationId: message.correlationId,
    causationId: message.causationId,
    logContext: message.logContext,
    invokedAt: message.invokedAt,
    dryRun: message.dryRun,
    rawRequest: message.rawRequest,
    request: message.request,
    valid: message.valid,
    assigns: message.assigns,
    response: message.response,
    events: message.events,
    aggregateMeta: message.aggregateMeta,
    originNode: message.originNode,
    halted: message.halted,
    traceparent: message.traceparent,
  };
}

/** @internal The message as a dispatcher sends it (time, origin, span): one copy, the dispatcher's hot path. */
export function stampMessage<TRequest>(
  message: Message<TRequest>,
  invokedAt: number,
  originNode: string | null,
  traceparent: string | undefined,
): Message<TRequest> {
  const next = fieldsOf(message);
  next.invokedAt = invokedAt;
  next.originNode = originNode;
  next.traceparent = traceparent;
  return new Message(next);
}

/** @internal The message in another span (`traceparent`). */
export function inSpan<TRequest>(message: Message<TRequest>, traceparent: string | undefined): Message<TRequest> {
  return stampMessage(message, message.invokedAt, message.originNode, traceparent);
}

/** @internal Builds a Message from envelope data that already passed `messageDataSchema`. */
export function messageFromWire(data: MessageWireData): Message {
  return new Message({
    serviceName: data.serviceName,
    id: data.id,
    correlationId: data.correlationId ?? data.id,
    causationId: data.causationId ?? data.id,
    logContext: data.logContext ?? {},
    invokedAt: data.invokedAt ?? systemClock.now(),
    dryRun: data.dryRun ?? false,
    rawRequest: data.rawRequest ?? {},
    request: data.request,
    valid: data.valid ?? true,
    assigns: data.assigns ?? {},
    response: (data.response as Response | null | undefined) ?? null,
    events: data.events ?? [],
    aggregateMeta: data.aggregateMeta ?? {},
    originNode: data.originNode ?? null,
    halted: data.halted ?? false,
    traceparent: normalizeTraceparent(data.traceparent),
  });
}
