import type { EventMetadata, RecordedEvent } from "../event-store/event-store.ts";
import { createMemoryEventStore } from "../event-store/memory-event-store.ts";
import { createMemoryCheckpointStore } from "../projector/memory-checkpoint-store.ts";
import { defineProjector, type Projection } from "../projector/projector.ts";
import { seededRandom } from "./seeded-random.ts";
import { VirtualClock } from "./virtual-clock.ts";

/** An event for `projectorSpec`: appended to a fresh log in the order given. */
export interface SpecEvent {
  readonly stream: string;
  readonly data: unknown;
  readonly metadata?: EventMetadata;
}

/** What `projectorSpec` replays, into what. */
export interface ProjectorSpecOptions<TModel> {
  readonly events: readonly SpecEvent[];
  /**
   * Makes a fresh, empty read model and the projection writing to it; called once per scenario.
   * `readModel` returns it as data: object keys, Map entries and Set values compare in any order.
   */
  readonly setup: () => Projection & {
    /** The read model as it is now, after the events delivered so far. */
    readModel(): TModel | Promise<TModel>;
  };
  /** How many times the duplicate scenarios deliver each event (Emmett's `numberOfTimes`). @default 3 */
  readonly numberOfTimes?: number;
  /** When given, the read model after one in-order delivery must equal it. */
  readonly expected?: TModel;
  /** Seed of the redelivery scenario, so a failure reproduces. @default 1 */
  readonly seed?: number;
}

function fail(message: string): never {
  throw new Error(`projector spec: ${message}`);
}

const byJson = (a: unknown, b: unknown) => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The read model as order-independent data, so two models compare by content. */
function normalize(value: unknown): unknown {
  if (value instanceof Map) return { Map: [...value].map(([k, v]) => [normalize(k), normalize(v)]).sort(byJson) };
  if (value instanceof Set) return { Set: [...value].map(normalize).sort(byJson) };
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value !== "object" || value === null) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return normalize(toJSON.call(value));
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, normalize(record[key])]),
  );
}

const canonical = (model: unknown) => JSON.stringify(normalize(model)) ?? "undefined";

/**
 * In order, but at seeded-random points it goes back to an earlier event, as a projector does after
 * losing a checkpoint: about `times - 1` extra deliveries per event in all.
 */
function redeliveries(events: readonly RecordedEvent[], times: number, random: () => number): RecordedEvent[] {
  const delivered: RecordedEvent[] = [];
  let budget = (times - 1) * events.length;
  for (let next = 0; next < events.length; ) {
    delivered.push(events[next] as RecordedEvent);
    next++;
    if (budget > 0 && random() < 0.5) {
      const back = 1 + Math.floor(random() * Math.min(next, budget));
      next -= back;
      budget -= back;
    }
  }
  return delivered;
}

/** The read model after one in-order delivery, through a real projector. */
async function projectOnce<TModel>(options: ProjectorSpecOptions<TModel>): Promise<{
  model: TModel;
  events: RecordedEvent[];
}> {
  const clock = new VirtualClock();
  const store = createMemoryEventStore({ clock });
  for (const event of options.events) await store.append(event.stream, [event.data], { metadata: event.metadata });
  const projection = options.setup();
  const projector = defineProjector({
    name: "projector-spec",
    source: store,
    checkpoints: createMemoryCheckpointStore(),
    handles: projection.handles,
    handle: (event, tx) => projection.handle(event, tx),
    dependentHydration: true,
    clock,
  });
  await projector.start();
  projector.stop();
  return { model: await projection.readModel(), events: await store.readAll({ limit: options.events.length }) };
}

/**
 * Proves a projection idempotent: its read model after one in-order delivery must equal the one after
 * each event delivered `numberOfTimes` in a row, after the whole log `numberOfTimes` over, and after
 * seeded-random redeliveries from earlier positions. Duplicates go straight to `handle` (with `tx`
 * undefined), as at-least-once delivery does when a checkpoint is lost, since a projector would skip
 * them. Resolves to the single-delivery read model; rejects with the scenario that differs.
 *
 * @example
 * import { projectorSpec } from "x3m-system/testing";
 * const model = await projectorSpec({
 *   events: [{ stream: "acc-1", data: { type: "Deposited", amount: 5, balance: 5 } }],
 *   setup: () => {
 *     const balances = new Map<string, number>();
 *     return {
 *       handle: (event) => { balances.set(event.stream, (event.data as { balance: number }).balance); },
 *       readModel: () => balances,
 *     };
 *   },
 *   expected: new Map([["acc-1", 5]]),
 * });
 */
export async function projectorSpec<TModel>(options: ProjectorSpecOptions<TModel>): Promise<TModel> {
  const times = options.numberOfTimes ?? 3;
  if (!Number.isSafeInteger(times) || times < 1) fail("numberOfTimes must be a positive integer");
  const { model, events } = await projectOnce(options);
  const once = canonical(model);
  if (options.expected !== undefined && canonical(options.expected) !== once) {
    fail(
      `the read model after one delivery is not the expected one\n  expected: ${canonical(options.expected)}\n  got:      ${once}`,
    );
  }
  const seed = options.seed ?? 1;
  const scenarios: Array<[string, RecordedEvent[]]> = [
    [`each event ${times} times in a row`, events.flatMap((event) => Array.from({ length: times }, () => event))],
    [`the whole log ${times} times`, Array.from({ length: times }, () => events).flat()],
    [`redeliveries from earlier positions (seed ${seed})`, redeliveries(events, times, seededRandom(seed))],
  ];
  for (const [scenario, deliveries] of scenarios) {
    const projection = options.setup();
    for (const event of deliveries) {
      // A copy each time, as a transport delivers: a handler that mutates its event cannot mask a duplicate.
      if (!projection.handles || projection.handles.includes(event.type)) {
        await projection.handle(structuredClone(event), undefined);
      }
    }
    const got = canonical(await projection.readModel());
    if (got !== once) {
      fail(`${scenario}: the read model differs from one in-order delivery\n  once: ${once}\n  got:  ${got}`);
    }
  }
  return model;
}
