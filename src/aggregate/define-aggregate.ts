import { SdkClientError, SdkErrorCode } from "../errors.ts";
import { isValidName } from "../ids.ts";
import type { Message } from "../message.ts";
import type { AggregateDefinition, AnyAggregate, CommandMap, DomainEvent, StateOf } from "./types.ts";

/**
 * Defines an aggregate. Types flow from `apply`: annotate its parameters and every command handler
 * gets a typed `state` and a `msg.addEvent` that accepts only the aggregate's events.
 *
 * @example
 * import { defineAggregate } from "x3m-system";
 * type Event = { type: "Opened"; owner: string } | { type: "Deposited"; amount: number };
 * const account = defineAggregate({
 *   name: "account",
 *   initialState: { balance: 0, owner: "" },
 *   apply: (state: { balance: number; owner: string }, event: Event) =>
 *     event.type === "Opened" ? { ...state, owner: event.owner } : { ...state, balance: state.balance + event.amount },
 *   commands: {
 *     open: (msg) => msg.addEvent({ type: "Opened", owner: msg.rawRequest.owner }).created(msg.aggregateMeta.id ?? ""),
 *     deposit: (msg) => msg.addEvent({ type: "Deposited", amount: msg.rawRequest.amount }).ok(),
 *   },
 * });
 */
export function defineAggregate<TState, TEvent extends DomainEvent, TCommands extends CommandMap<TState, TEvent>>(
  definition: AggregateDefinition<TState, TEvent, TCommands>,
): AggregateDefinition<TState, TEvent, TCommands> {
  if (!isValidName(definition.name)) {
    throw new SdkClientError(
      SdkErrorCode.INVALID_OPTIONS,
      `"${String(definition.name)}" is not a valid aggregate name`,
    );
  }
  for (const [name, command] of Object.entries(definition.commands)) {
    const valid =
      typeof command === "function" || (typeof command?.handle === "function" && command.validate !== undefined);
    if (!valid) {
      throw new SdkClientError(
        SdkErrorCode.INVALID_OPTIONS,
        `aggregate "${definition.name}": command "${name}" is not a handler`,
      );
    }
  }
  return Object.freeze({ ...definition });
}

/**
 * The aggregate's initial state: a fresh one from `initialState()` when it is a function, else a deep copy of
 * the value, so that no two aggregates share one.
 *
 * @example
 * import { foldEvents, initialStateOf } from "x3m-system";
 * const state = foldEvents(account, initialStateOf(account), events); // the state after `events`
 */
export function initialStateOf<TAggregate extends AnyAggregate>(aggregate: TAggregate): StateOf<TAggregate> {
  const { initialState } = aggregate;
  return typeof initialState === "function" ? initialState() : structuredClone(initialState);
}

/**
 * Folds `events` into `state` with the aggregate's `apply`, in order (pure: `state` is not changed unless
 * `apply` changes it).
 *
 * @example
 * import { foldEvents, initialStateOf } from "x3m-system";
 * foldEvents(account, initialStateOf(account), [{ type: "Deposited", amount: 5 }]); // { balance: 5 }
 */
export function foldEvents<TState>(aggregate: AnyAggregate, state: TState, events: readonly unknown[]): TState {
  let next = state;
  for (const event of events) next = aggregate.apply(next, event);
  return next;
}

function isStandardSchema(value: unknown): value is { "~standard": unknown } {
  return typeof value === "object" && value !== null && "~standard" in value;
}

/**
 * Runs one command purely: validate (when the command has a validator), then handle. No store, no
 * versions, no idempotency: the aggregate host adds those. A halted validation result is returned as is.
 */
export async function runCommand(
  aggregate: AnyAggregate,
  command: string,
  message: Message,
  state: unknown,
): Promise<Message> {
  const definition = aggregate.commands[command];
  if (definition === undefined) {
    throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `aggregate "${aggregate.name}" has no command "${command}"`);
  }
  // Returned, not awaited: the caller awaits it anyway, and a synchronous handler then costs one tick less.
  if (typeof definition === "function") return definition(message, state) as Message | Promise<Message>;
  const { validate, handle } = definition;
  const validated = isStandardSchema(validate)
    ? await message.putRequestAsync(validate as never)
    : ((await (validate as (m: Message, s: unknown) => unknown)(message, state)) as Message);
  if (validated.halted) return validated;
  return (await handle(validated, state)) as Message;
}
