import { foldEvents, initialStateOf, runCommand } from "../aggregate/define-aggregate.ts";
import type { AnyAggregate, CommandNameOf, EventOf, StateOf } from "../aggregate/types.ts";
import { Message, type RawRequest } from "../message.ts";
import type { Response } from "../response.ts";

/** The original's `command_message`: a message for `service` with a raw request and assigns. */
export function commandMessage(
  service: string,
  rawRequest: RawRequest = {},
  assigns: Record<string, unknown> = {},
): Message {
  let message = Message.new(service, { rawRequest });
  for (const [key, value] of Object.entries(assigns)) message = message.assign(key, value);
  return message;
}

/** The original's `apply_events`: folds events into `{ state, version }`; the version advances by their count unless given. */
export function applyEvents<TAggregate extends AnyAggregate>(
  aggregate: TAggregate,
  current: { state: StateOf<TAggregate>; version: number },
  events: readonly EventOf<TAggregate>[],
  options: { version?: number } = {},
): { state: StateOf<TAggregate>; version: number } {
  return {
    state: foldEvents(aggregate, current.state, events),
    version: options.version ?? current.version + events.length,
  };
}

/** The original's `state_from_events`: the initial state with `events` applied; version = last index unless given. */
export function stateFromEvents<TAggregate extends AnyAggregate>(
  aggregate: TAggregate,
  events: readonly EventOf<TAggregate>[],
  options: { version?: number } = {},
): { state: StateOf<TAggregate>; version: number } {
  return applyEvents(aggregate, { state: initialStateOf(aggregate), version: -1 }, events, {
    version: options.version ?? events.length - 1,
  });
}

function fail(message: string): never {
  throw new Error(`aggregate spec: ${message}`);
}

function same(actual: unknown, expected: unknown): boolean {
  return JSON.stringify(actual) === JSON.stringify(expected);
}

/** What a `when` produced. */
export interface Outcome<TAggregate extends AnyAggregate> {
  /** The command's message after it ran: `events`, `response`, `halted`. */
  readonly message: Message;
  /** The state after applying the produced events to the given state. */
  readonly state: StateOf<TAggregate>;
}

/** The assertions of a `when`; each runs the command and resolves to its outcome, or rejects. */
export interface When<TAggregate extends AnyAggregate> {
  /** Runs the command; resolves to the outcome for your own assertions. */
  run(): Promise<Outcome<TAggregate>>;
  /** Asserts the produced events and, when given, the response (compared as JSON). */
  thenEvents(expected: { events: readonly EventOf<TAggregate>[]; response?: Response }): Promise<Outcome<TAggregate>>;
  /** Asserts that no event was produced (the response may say why). */
  thenNothingHappened(): Promise<Outcome<TAggregate>>;
  /** Asserts that no event was produced and that the response has these fields (status at least). */
  thenError(expected: Partial<Response> & Pick<Response, "status">): Promise<Outcome<TAggregate>>;
}

/**
 * Given/when/then for an aggregate's pure logic: no store, no host. `when` takes a message or a raw request.
 *
 * @example
 * import { aggregateSpec } from "x3m-system/testing";
 * await aggregateSpec(account)
 *   .given([{ type: "Opened", owner: "ada" }])
 *   .when("withdraw", { amount: 500 })
 *   .thenEvents({ events: [{ type: "WithdrawalRejected", amount: 500 }], response: { status: "error", reason: "insufficient_funds" } });
 */
export function aggregateSpec<TAggregate extends AnyAggregate>(aggregate: TAggregate) {
  return {
    /** The events that already happened (none by default): the command runs on their state, at their version. */
    given(events: readonly EventOf<TAggregate>[] = []) {
      const given = stateFromEvents(aggregate, events);
      return {
        /** The command to run against the given state. */
        when(command: CommandNameOf<TAggregate>, input: Message | RawRequest = {}): When<TAggregate> {
          const run = async (): Promise<Outcome<TAggregate>> => {
            const message = (input instanceof Message ? input : commandMessage(command, input)).with({
              aggregateMeta: { version: given.version },
            });
            const result = await runCommand(aggregate, command, message, given.state);
            return { message: result, state: foldEvents(aggregate, given.state, result.events) };
          };
          const nothingHappened = (outcome: Outcome<TAggregate>) => {
            if (outcome.message.events.length > 0)
              fail(`expected no events, got ${JSON.stringify(outcome.message.events)}`);
            return outcome;
          };
          return {
            run,
            async thenEvents(expected) {
              const outcome = await run();
              const { events, response } = outcome.message;
              if (!same(events, expected.events)) {
                fail(`expected events ${JSON.stringify(expected.events)}, got ${JSON.stringify(events)}`);
              }
              if (expected.response !== undefined && !same(response, expected.response)) {
                fail(`expected response ${JSON.stringify(expected.response)}, got ${JSON.stringify(response)}`);
              }
              return outcome;
            },
            async thenNothingHappened() {
              return nothingHappened(await run());
            },
            async thenError(expected) {
              const outcome = nothingHappened(await run());
              const response = outcome.message.response as Record<string, unknown> | null;
              const matches =
                response !== null && Object.entries(expected).every(([key, value]) => same(response[key], value));
              if (!matches)
                fail(`expected a response like ${JSON.stringify(expected)}, got ${JSON.stringify(response)}`);
              return outcome;
            },
          };
        },
      };
    },
  };
}
