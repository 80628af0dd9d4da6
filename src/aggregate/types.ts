import type { Message } from "../message.ts";
import type { Response } from "../response.ts";
import type { StandardSchemaV1 } from "../standard-schema.ts";

/** An event: any object with a string `type` (the discriminant of the aggregate's event union). */
export interface DomainEvent {
  readonly type: string;
}

/**
 * The message a command handler sees: a `Message` whose `addEvent` only accepts the aggregate's events,
 * so emitting an event of the wrong type is a compile error. At run time it is a plain `Message`.
 */
export interface AggregateMessage<TEvent, TRequest = unknown>
  extends Omit<
    Message<TRequest>,
    "events" | "addEvent" | "return" | "ok" | "created" | "error" | "assign" | "putRequest" | "putRequestAsync" | "with"
  > {
  readonly events: readonly TEvent[];
  /** Appends one of the aggregate's events (`null` and `undefined` are ignored); answers the new message. */
  addEvent(event: TEvent | null | undefined): AggregateMessage<TEvent, TRequest>;
  /** Sets the response and halts the message; answers the new message. */
  return(response: Response): AggregateMessage<TEvent, TRequest>;
  /** `return(Response.ok(payload))`; the host adds the aggregate's version. */
  ok(payload?: unknown): AggregateMessage<TEvent, TRequest>;
  /** `return(Response.created(id))`; the host adds the version when `id` is the aggregate's own. */
  created(id: string): AggregateMessage<TEvent, TRequest>;
  /** `return(Response.error(reason))`; events already added are still saved. */
  error(reason: unknown): AggregateMessage<TEvent, TRequest>;
  /** Stores `value` under `key` in `assigns`; answers the new message. */
  assign(key: string, value: unknown): AggregateMessage<TEvent, TRequest>;
  /** Validates `rawRequest` with `schema`, as `Message.putRequest` does; invalid: halted with a `validation_error`. */
  putRequest<TSchema extends StandardSchemaV1>(
    schema: TSchema,
  ): AggregateMessage<TEvent, StandardSchemaV1.InferOutput<TSchema>>;
}

/** What a command handler returns: the message with its events added and its response set. */
// biome-ignore lint/suspicious/noExplicitAny: the request type of the reply is the handler's business.
export type CommandResult<TEvent> = AggregateMessage<TEvent, any> | Promise<AggregateMessage<TEvent, any>>;

/** `(msg, state) → msg`: decide, by adding events and setting the response. */
export type CommandHandler<TState, TEvent, TRequest = unknown> = (
  message: AggregateMessage<TEvent, TRequest>,
  state: TState,
) => CommandResult<TEvent>;

/**
 * A validator that runs before the handler: a zod/Standard Schema for `rawRequest`, or a state-aware
 * function returning the message (halted when invalid, e.g. via `putRequest`).
 */
export type CommandValidator<TState, TEvent> =
  | StandardSchemaV1
  | ((
      message: AggregateMessage<TEvent>,
      state: TState,
    ) => AggregateMessage<TEvent, unknown> | Promise<AggregateMessage<TEvent, unknown>>);

/** A command: a handler, or `{ validate, handle }`. */
export type Command<TState, TEvent> =
  | CommandHandler<TState, TEvent>
  | {
      readonly validate: CommandValidator<TState, TEvent>;
      // biome-ignore lint/suspicious/noExplicitAny: `msg.request` is not inferred from `validate`; annotate the handler's message (`AggregateMessage<TEvent, z.infer<typeof schema>>`) to type it.
      readonly handle: CommandHandler<TState, TEvent, any>;
    };

/** An aggregate's commands: command name → `Command`. */
export type CommandMap<TState, TEvent> = Readonly<Record<string, Command<TState, TEvent>>>;

/** A pure aggregate: how commands decide events and how events fold into state. */
export interface AggregateDefinition<TState, TEvent extends DomainEvent, TCommands extends CommandMap<TState, TEvent>> {
  /** Names streams (`${name}-${id}`) and telemetry. */
  readonly name: string;
  /** The state before any event: a value (cloned for each aggregate), or a function that makes it. */
  readonly initialState: TState | (() => TState);
  readonly commands: TCommands;
  /** Folds one event into the state. Pure. Unknown events should return the state unchanged. */
  readonly apply: (state: TState, event: TEvent) => TState;
  /**
   * Decides, inside the aggregate's host and with its current state, whether a command may run: `true`
   * allows it, anything else denies it with `{ status: "error", reason }` (`false`, `null` and `undefined`
   * become `"forbidden"`). It runs in the same turn as the command on every substrate (memory, Durable
   * Objects, the browser's offline host), so the check and the command see the same state, with no extra
   * round trip. A denial is a final answer: a re-delivered command gets it again. Re-delivered commands
   * that were answered before get their first answer without this check.
   *
   * @example
   * authorize: (msg, state) => state.owner === undefined || state.owner === (msg.assigns.principal as { user?: string })?.user,
   */
  readonly authorize?: (message: Message, state: TState) => unknown;
  /** Runs when a (non-dry-run) command's events are durable, before they are applied. */
  readonly commit?: (message: Message, state: TState) => void | Promise<void>;
  /** Runs instead of `commit` after a dry run that produced events (undo side effects of validation). */
  readonly rollback?: (message: Message, state: TState) => void | Promise<void>;
}

/** Any aggregate definition (what hosts and helpers accept). */
// biome-ignore lint/suspicious/noExplicitAny: erases the type parameters.
export type AnyAggregate = AggregateDefinition<any, any, any>;

/** The state type of an aggregate definition. */
export type StateOf<TAggregate> = TAggregate extends {
  /** The definition's `apply`: its first parameter is the state. */
  // biome-ignore lint/suspicious/noExplicitAny: only the state parameter is inferred.
  readonly apply: (state: infer TState, event: any) => unknown;
}
  ? TState
  : never;
/** The event union of an aggregate definition. */
export type EventOf<TAggregate> = TAggregate extends {
  /** The definition's `apply`: its second parameter is the event union. */
  // biome-ignore lint/suspicious/noExplicitAny: only the event parameter is inferred.
  readonly apply: (state: any, event: infer TEvent) => unknown;
}
  ? TEvent
  : never;
/** The command names of an aggregate definition. */
export type CommandNameOf<TAggregate> = TAggregate extends { readonly commands: infer TCommands }
  ? keyof TCommands & string
  : never;
