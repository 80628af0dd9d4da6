import { type Clock, systemClock } from "../clock.ts";
import { describeError, SdkClientError, SdkErrorCode } from "../errors.ts";
import type { ClientSequence, EventMetadata, RecordedEvent } from "../event-store/event-store.ts";
import { logTo, silentLogger } from "../logger.ts";
import { Message } from "../message.ts";
import { Response } from "../response.ts";
import type { ServiceHandler } from "../router.ts";
import { createTelemetry } from "../telemetry.ts";
import { aggregateDenial } from "./authorize.ts";
import {
  type AggregateRoute,
  type ClientCommand,
  type ClientCommandResult,
  markAggregateService,
  type SyncAggregate,
} from "./client-commands.ts";
import { foldEvents, initialStateOf, runCommand } from "./define-aggregate.ts";
import type { AggregateHostOptions, LoadedAggregate, UnloadDecision } from "./host-options.ts";
import { type Flow, isSuccess, mapResponse } from "./responses.ts";
import type { AnyAggregate, CommandNameOf, StateOf } from "./types.ts";

const PAGE_SIZE = 1_000;

/** One aggregate id's place in memory: its loaded state (if any) and the queue of its commands. */
interface Slot<TState> {
  readonly id: string;
  loaded: { state: TState; version: number; processed: Map<string, Response> } | undefined;
  tail: Promise<void>;
  pending: number;
  unloadRequested: boolean;
  /** Unload-rule timers: they run their course whatever the aggregate does meanwhile. */
  readonly timers: Set<() => void>;
  /** The passivation timer: reset by every command. */
  cancelIdle: (() => void) | undefined;
}

interface SnapshotState<TState> {
  readonly state: TState;
  readonly processed: ReadonlyArray<readonly [string, Response]>;
}

/** Options of the services `onNew`, `on`, `onMaybeNew` and `stateService` make: where the aggregate id is read from. */
export interface ServiceOptions {
  /** The `rawRequest` field holding the aggregate id. @default "id" */
  readonly idField?: string;
}

/**
 * Runs an aggregate's commands: one at a time per aggregate id, different ids concurrently, events
 * persisted with optimistic concurrency before anything is answered. Create with `createAggregateHost`.
 */
export interface AggregateHost<TAggregate extends AnyAggregate> {
  /** A service that creates the aggregate (the id is generated when missing). */
  onNew(command: CommandNameOf<TAggregate>, options?: ServiceOptions): ServiceHandler;
  /** A service for an existing aggregate: `not_found` when there is none. */
  on(command: CommandNameOf<TAggregate>, options?: ServiceOptions): ServiceHandler;
  /** A service that acts on the aggregate, creating it when it does not exist yet. */
  onMaybeNew(
    command: CommandNameOf<TAggregate>,
    options?: ServiceOptions & { readonly generateIdIfMissing?: boolean },
  ): ServiceHandler;
  /**
   * A service answering the aggregate's current state and version (`ok` with `{ state, version }`), or
   * `not_found`: register it in a router, so reads get the router's authorization.
   */
  stateService(options?: ServiceOptions): ServiceHandler;
  /**
   * The host as offline sync reaches it. `runClientCommands` runs an offline client's commands for one
   * aggregate, in order, each exactly once: a command whose client sequence was already recorded answers
   * its recorded answer; the next one runs, and its answer and sequence are recorded with its events; a
   * gap is refused. `changes` reads confirmed events with the client's sequence. What sync endpoints call.
   */
  readonly sync: SyncAggregate;
  /** The aggregate's current state and version (loading it if needed), or `undefined` when it does not exist. */
  getState(aggregateId: string): Promise<{ state: StateOf<TAggregate>; version: number } | undefined>;
  /** Drops the aggregate from memory (after its queued commands); the next command re-hydrates it. */
  unload(aggregateId: string): void;
  /** Ids of the aggregates held in memory now. */
  loadedIds(): string[];
  /** Cancels every timer (unload rules, idle passivation). */
  close(): void;
}

/**
 * Hosts an aggregate on an event store, in memory. The Durable Objects adapter hosts the same
 * definitions with the same flows.
 *
 * @example
 * import { createAggregateHost, createMemoryEventStore, defineRouter } from "x3m-system";
 * const accounts = createAggregateHost(account, { store: createMemoryEventStore(), snapshots: { every: 100, schemaVersion: 1 } });
 * const router = defineRouter({
 *   name: "accounts",
 *   services: { open_account: accounts.onNew("open"), deposit: accounts.on("deposit") },
 *   authorize: (msg) => msg.assigns.user !== undefined,
 * });
 */
export function createAggregateHost<TAggregate extends AnyAggregate>(
  aggregate: TAggregate,
  options: AggregateHostOptions<StateOf<TAggregate>>,
): AggregateHost<TAggregate> {
  type TState = StateOf<TAggregate>;
  const { store } = options;
  const clock: Clock = options.clock ?? systemClock;
  const telemetry = options.telemetry ?? createTelemetry();
  const streamName = options.streamName ?? ((id: string) => `${aggregate.name}-${id}`);
  const slots = new Map<string, Slot<TState>>();
  let closed = false;
  const idempotencyWindow = options.idempotencyWindow ?? 1_000;

  /** Remembers `messageId` → `response`, forgetting the oldest ids beyond the idempotency window. */
  const remember = (processed: Map<string, Response>, messageId: string, response: Response) => {
    processed.delete(messageId);
    processed.set(messageId, response);
    if (processed.size <= idempotencyWindow) return;
    for (const oldest of processed.keys()) {
      if (processed.size <= idempotencyWindow) break;
      processed.delete(oldest);
    }
  };

  const assertCommand = (command: string) => {
    if (!(command in aggregate.commands)) {
      throw new SdkClientError(
        SdkErrorCode.INVALID_OPTIONS,
        `aggregate "${aggregate.name}" has no command "${command}"`,
      );
    }
  };

  // ---- memory: slots, the per-id queue, timers ------------------------------------------------

  const slotFor = (id: string): Slot<TState> => {
    const existing = slots.get(id);
    if (existing) return existing;
    const slot: Slot<TState> = {
      id,
      loaded: undefined,
      tail: Promise.resolve(),
      pending: 0,
      unloadRequested: false,
      timers: new Set(),
      cancelIdle: undefined,
    };
    slots.set(id, slot);
    return slot;
  };

  const clearTimers = (slot: Slot<TState>) => {
    for (const cancel of slot.timers) cancel();
    slot.timers.clear();
    slot.cancelIdle?.();
    slot.cancelIdle = undefined;
  };

  const remove = (slot: Slot<TState>) => {
    clearTimers(slot);
    slot.loaded = undefined;
    if (slots.get(slot.id) === slot) slots.delete(slot.id);
  };

  const after = (slot: Slot<TState>, ms: number, action: () => void) => {
    if (closed) return;
    const cancel = clock.setTimeout(() => {
      slot.timers.delete(cancel);
      action();
    }, ms);
    slot.timers.add(cancel);
  };

  /** Once a slot's queue is empty: forget it if it holds nothing (no leaked instances), else start the idle timer. */
  const drained = (slot: Slot<TState>) => {
    if (slot.pending > 0) return;
    if (!slot.loaded || slot.unloadRequested) return remove(slot);
    const idle = options.idleTimeoutMs;
    if (closed) return remove(slot); // a closed host keeps nothing and arms no timer
    if (idle !== undefined) {
      slot.cancelIdle = clock.setTimeout(() => {
        slot.cancelIdle = undefined;
        if (slot.pending === 0) remove(slot);
      }, idle);
    }
  };

  /** Runs `task` after every earlier task for the same id: one command at a time per aggregate. */
  const enqueue = <TResult>(id: string, task: (slot: Slot<TState>) => Promise<TResult>): Promise<TResult> => {
    const slot = slotFor(id);
    slot.pending++;
    slot.cancelIdle?.(); // an active aggregate is not idle
    slot.cancelIdle = undefined;
    const run = slot.tail.then(() => task(slot));
    slot.tail = run.then(
      () => {},
      () => {},
    );
    return run.finally(() => {
      slot.pending--;
      drained(slot);
    });
  };

  // ---- loading ---------------------------------------------------------------------------------

  const processedFrom = (event: RecordedEvent, processed: Map<string, Response>) => {
    const { messageId, response } = event.metadata as { messageId?: unknown; response?: Response };
    if (typeof messageId === "string")
      remember(processed, messageId, response ?? Response.ok(undefined, event.version));
  };

  const defaultLoad = async (id: string): Promise<LoadedAggregate<TState> | undefined> => {
    const stream = streamName(id);
    let state: TState = initialStateOf(aggregate);
    let version = -1;
    const processed = new Map<string, Response>();
    if (options.snapshots) {
      const snapshot = await store.loadSnapshot(stream, { schemaVersion: options.snapshots.schemaVersion });
      if (snapshot) {
        const saved = snapshot.state as SnapshotState<TState>;
        state = saved.state;
        version = snapshot.version;
        for (const [messageId, response] of saved.processed) remember(processed, messageId, response);
      }
    }
    for (;;) {
      const page = await store.read(stream, { from: version + 1, limit: PAGE_SIZE });
      for (const event of page) {
        state = aggregate.apply(state, event.data);
        version = event.version;
        processedFrom(event, processed);
      }
      if (page.length < PAGE_SIZE) break;
    }
    return version === -1 ? undefined : { state, version, processed };
  };

  const load = (id: string): Promise<LoadedAggregate<TState> | undefined> =>
    options.whenNotLoaded
      ? options.whenNotLoaded({ aggregateId: id, stream: streamName(id), defaultLoad: () => defaultLoad(id) })
      : defaultLoad(id);

  const hydrate = async (slot: Slot<TState>): Promise<boolean> => {
    if (slot.loaded) return true;
    const loaded = await load(slot.id);
    if (!loaded) return false;
    slot.loaded = { state: loaded.state, version: loaded.version, processed: new Map(loaded.processed) };
    return true;
  };

  const spawn = (slot: Slot<TState>) => {
    slot.loaded = { state: initialStateOf(aggregate), version: -1, processed: new Map() };
    telemetry.emit("new_aggr_spawned", {}, { aggregate: aggregate.name, id: slot.id });
  };

  // ---- after a commit: snapshots, saveState, unload rules ---------------------------------------

  const snapshotIfDue = async (slot: Slot<TState>, fromVersion: number) => {
    const policy = options.snapshots;
    const loaded = slot.loaded;
    if (
      !policy ||
      !loaded ||
      Math.floor((fromVersion + 1) / policy.every) === Math.floor((loaded.version + 1) / policy.every)
    ) {
      return;
    }
    const state: SnapshotState<TState> = { state: loaded.state, processed: [...loaded.processed] };
    await store.saveSnapshot(streamName(slot.id), {
      version: loaded.version,
      schemaVersion: policy.schemaVersion,
      state,
    });
  };

  const applyUnloadRules = (slot: Slot<TState>, events: readonly unknown[]) => {
    const rules = options.unloadOn;
    if (!rules || !slot.loaded) return;
    const decide = (decision: UnloadDecision) => {
      if (decision === "unload") slot.unloadRequested = true;
      else if (decision !== "skip") after(slot, decision.inMs, () => unload(slot.id));
    };
    for (const event of events) {
      const type = (event as { type?: unknown }).type;
      const rule = typeof type === "string" ? rules.events?.[type] : undefined;
      if (rule) decide(rule);
    }
    if (rules.state) {
      let decision: UnloadDecision = "skip";
      try {
        decision = rules.state(slot.loaded.state);
      } catch {
        // A rule that does not match this state means "skip", as the original's FunctionClauseError did.
      }
      decide(decision);
    }
  };

  const hook = async (name: string, fn: () => unknown) => {
    try {
      await fn();
    } catch (error) {
      telemetry.emit("handler_failed", {}, { aggregate: aggregate.name, service: name, error: describeError(error) });
    }
  };

  // ---- one command --------------------------------------------------------------------------------

  const failure = (message: Message, code: "load_failed" | "save_failed", error: unknown) =>
    message.error({ code, message: describeError(error).message });

  /**
   * Whether a command may run: its answer if it was answered before (however long ago: the store keeps
   * every answer), a refusal if it is out of its client's order, else nothing. May throw (a store read).
   */
  const earlierTurn = async (
    stream: string,
    messageId: string,
    client: ClientSequence | undefined,
    processed: Map<string, Response> | undefined,
  ): Promise<{ answered: Response } | { refusal: Response } | undefined> => {
    let last = 0;
    if (client) {
      last = await store.clientSequence(stream, client.clientId);
      // Never out of order: the client's earlier commands on this aggregate have not arrived.
      if (client.seq > last + 1) {
        return { refusal: Response.error({ code: "sequence_gap", expected: last + 1, received: client.seq }) };
      }
    }
    const answered = processed?.get(messageId) ?? (await store.findAnswer(stream, messageId));
    if (answered) return { answered };
    // The client used this number for another command: a client bug, never a reason to run this one.
    if (client && client.seq <= last)
      return { refusal: Response.error({ code: "sequence_reused", seq: client.seq, last }) };
    return undefined;
  };

  const execute = async (
    slot: Slot<TState>,
    command: string,
    message: Message,
    flow: "on" | "onNew" | "onMaybeNew",
    client?: ClientSequence,
  ): Promise<Message> => {
    const stream = streamName(slot.id);

    let earlier: Awaited<ReturnType<typeof earlierTurn>>;
    try {
      earlier = await earlierTurn(stream, message.id, client, slot.loaded?.processed);
    } catch (error) {
      return failure(message, "load_failed", error);
    }
    if (earlier && "refusal" in earlier) return message.return(earlier.refusal);
    if (earlier) {
      if (slot.loaded) remember(slot.loaded.processed, message.id, earlier.answered);
      if (client === undefined) warnRedelivered(message);
      return message.return(earlier.answered);
    }

    /**
     * Answers `response` for good: recorded (with the client's sequence) before anything is answered, so a
     * re-delivery gets it again. Dry runs record nothing.
     */
    const answer = async (response: Response, base: Message = message): Promise<Message> => {
      if (base.dryRun === false) {
        try {
          await store.recordAnswer(stream, { messageId: message.id, response, ...(client ? { client } : {}) });
        } catch (error) {
          return failure(message, "save_failed", error);
        }
        if (slot.loaded) remember(slot.loaded.processed, message.id, response);
      }
      return base.return(response);
    };

    if (flow === "onNew") {
      if (slot.loaded && slot.loaded.version >= 0) return answer(Response.alreadyExists());
      if (!slot.loaded) spawn(slot);
    } else {
      let found: boolean;
      try {
        found = slot.loaded !== undefined || (await hydrate(slot));
      } catch (error) {
        return failure(message, "load_failed", error);
      }
      if (!found && flow === "on") return answer(Response.notFound());
      if (!found) spawn(slot);
    }
    const current = slot.loaded as NonNullable<Slot<TState>["loaded"]>;
    const mapping: Flow = current.version === -1 ? "new" : "existing";
    const discardIfNew = () => {
      if (mapping === "new") slot.loaded = undefined;
    };

    // The aggregate's own authorization sees the state this command runs on, in the same turn.
    let denied = aggregateDenial(aggregate, message, current.state);
    if (denied instanceof Promise) denied = await denied; // a synchronous rule costs no tick
    if (denied) {
      discardIfNew();
      return answer(denied);
    }

    // The command starts clean: events (or a request) that arrived with the message are never persisted.
    const before = message.with({
      events: [],
      request: undefined,
      valid: true,
      aggregateMeta: { ...message.aggregateMeta, version: current.version },
    });
    if (telemetry.active) telemetry.emit("handle_msg", {}, { aggregate: aggregate.name, command, message: before });
    let result: Message;
    try {
      result = await runCommand(aggregate, command, before, current.state);
    } catch (error) {
      discardIfNew();
      const failed = before.error({ exception: describeError(error) });
      return answer(failed.response as Response, failed);
    }
    if (!(result instanceof Message)) {
      discardIfNew();
      return answer(Response.error("invalid_handler_result"), before);
    }
    const { events } = result;

    if (result.dryRun !== false && events.length > 0) {
      await hook("rollback", () => aggregate.rollback?.(result, current.state));
      discardIfNew();
      // Unlike the original, a dry run does not mask a failure: validation shows the real answer.
      if (!isSuccess(result.response)) return result;
      const payload = result.dryRun === "verbose" ? [...events] : undefined;
      return result.return(Response.ok(payload, current.version));
    }

    if (events.length === 0) {
      discardIfNew();
      return answer(mapResponse(result.response, mapping, slot.id, current.version), result);
    }

    const metadata: EventMetadata = {
      ...options.eventMetadata,
      messageId: message.id,
      correlationId: message.correlationId,
      causationId: message.id,
    };
    const responseAt = (version: number) => mapResponse(result.response, mapping, slot.id, version);
    let answerSaved = false;
    const defaultSave = (toSave: readonly unknown[] = events, version = current.version + toSave.length) => {
      answerSaved = true;
      return store.append(stream, toSave, {
        expectedVersion: current.version,
        metadata,
        // Recorded with the events: a re-delivery answers the same, also after a replay.
        answer: { messageId: message.id, response: responseAt(version), ...(client ? { client } : {}) },
      });
    };
    let saved: Awaited<ReturnType<NonNullable<typeof options.saveEvents>>>;
    try {
      saved = options.saveEvents
        ? await options.saveEvents({
            aggregateId: slot.id,
            stream,
            message: result,
            events,
            expectedVersion: current.version,
            metadata,
            defaultSave: (e) => defaultSave(e),
          })
        : await defaultSave();
    } catch (error) {
      slot.loaded = undefined; // re-hydrate from the store next time
      return failure(before, "save_failed", error);
    }
    if (!saved.ok) {
      // Someone else wrote first. Re-hydrate from the store: if the winner was this very message (a
      // re-delivered creation after an unload), answer its original response instead of a conflict.
      slot.loaded = undefined;
      const previous = await hydrate(slot).then(
        () => slot.loaded?.processed.get(message.id) ?? store.findAnswer(stream, message.id),
        () => undefined,
      );
      if (previous) return message.return(previous);
      return answer(Response.wrongExpectedVersion(current.version, saved.error.actual), before);
    }

    const response = responseAt(saved.version);
    if (!answerSaved) {
      // A custom save (state instead of events) kept the effects: the answer is recorded next to them.
      try {
        await store.recordAnswer(stream, { messageId: message.id, response, ...(client ? { client } : {}) });
      } catch (error) {
        slot.loaded = undefined;
        return failure(before, "save_failed", error);
      }
    }
    if (aggregate.commit) await hook("commit", () => aggregate.commit?.(result, current.state));
    const fromVersion = current.version;
    remember(current.processed, message.id, response);
    slot.loaded = {
      state: foldEvents(aggregate, current.state, events),
      version: saved.version,
      processed: current.processed,
    };
    if (options.saveState) {
      await hook("saveState", () => options.saveState?.(slot.id, slot.loaded as LoadedAggregate<TState>, result));
    }
    if (options.snapshots) await hook("snapshot", () => snapshotIfDue(slot, fromVersion));
    applyUnloadRules(slot, events);
    return result.return(response);
  };

  /** The original logs re-deliveries; here they reach telemetry (and the logger, when one listens). */
  const warnRedelivered = (message: Message) => {
    if (telemetry.active) telemetry.emit("message_redelivered", {}, { aggregate: aggregate.name, message });
    logTo(options.logger ?? silentLogger, "warn", "already_processed", `message ${message.id} already processed`, {
      context: message.logContext,
      data: {
        aggregate: aggregate.name,
        id: message.aggregateMeta.id,
        service: message.serviceName,
        messageId: message.id,
      },
    });
  };

  const runClientCommands = (aggregateId: string, commands: readonly ClientCommand[]) => {
    // A storage failure stops this aggregate's batch: the commands behind it would be out of order.
    let stopped = false;
    return Promise.all(
      commands.map((command) =>
        enqueue(aggregateId, async (slot): Promise<ClientCommandResult> => {
          if (stopped) return { status: "not_processed", response: null };
          const reply =
            "refusal" in command
              ? await refuse(slot, command.messageId, command.refusal, command.client)
              : await runPushed(slot, command);
          if (Response.isStorageFailure(reply.response)) {
            stopped = true;
            return { status: "retry", response: reply.response };
          }
          return { status: isSuccess(reply.response) ? "applied" : "rejected", response: reply.response };
        }),
      ),
    );
  };

  const runPushed = (slot: Slot<TState>, command: Extract<ClientCommand, { route: unknown }>) => {
    const { route } = command;
    const prepared = command.message.prepareAggregateId(route.idField, {
      generateIfMissing: route.generateIdIfMissing,
    });
    if (prepared.aggregateMeta.id !== slot.id) {
      const refusal = Response.error({ code: "wrong_aggregate", expected: slot.id });
      return refuse(slot, command.message.id, refusal, command.client);
    }
    return execute(slot, route.command, prepared, route.flow, command.client);
  };

  /** Records a refusal decided before the aggregate (the client's sequence moves on), unless already answered. */
  const refuse = async (slot: Slot<TState>, messageId: string, refusal: Response, client: ClientSequence) => {
    const carrier = Message.new("x3m.refused", { id: messageId, dryRun: false });
    const stream = streamName(slot.id);
    try {
      const earlier = await earlierTurn(stream, messageId, client, undefined);
      if (earlier) return carrier.return("answered" in earlier ? earlier.answered : earlier.refusal);
      await store.recordAnswer(stream, { messageId, response: refusal, client });
    } catch (error) {
      return failure(carrier, "save_failed", error);
    }
    return carrier.return(refusal);
  };

  const changes: SyncAggregate["changes"] = (aggregateId, { after, limit, clientId }) =>
    enqueue(aggregateId, async () => {
      const stream = streamName(aggregateId);
      // Read together, between commands: every command up to `seq` has its events up to `version`.
      const [events, version, seq] = await Promise.all([
        store.read(stream, { from: after + 1, limit }),
        store.version(stream),
        store.clientSequence(stream, clientId),
      ]);
      const complete = (events.at(-1)?.version ?? after) >= version;
      return complete ? { events, version, seq } : { events, version };
    });

  const sync: SyncAggregate = { key: Object.freeze({ aggregate: aggregate.name }), runClientCommands, changes };

  const service = (route: AggregateRoute): ServiceHandler =>
    markAggregateService(
      (message) => {
        const prepared = message.prepareAggregateId(route.idField, { generateIfMissing: route.generateIdIfMissing });
        if (prepared.halted) return prepared;
        const id = prepared.aggregateMeta.id as string;
        return enqueue(id, (slot) => execute(slot, route.command, prepared, route.flow));
      },
      { aggregate: aggregate.name, route, key: sync.key },
    );

  const getState = (aggregateId: string) =>
    enqueue(aggregateId, async (slot) => {
      if (!(await hydrate(slot)) || !slot.loaded || slot.loaded.version < 0) return undefined;
      return { state: slot.loaded.state, version: slot.loaded.version };
    });

  const unload = (id: string) => {
    const slot = slots.get(id);
    if (!slot) return;
    if (slot.pending > 0) slot.unloadRequested = true;
    else remove(slot);
  };

  return {
    onNew(command, { idField = "id" } = {}) {
      assertCommand(command);
      return service({ flow: "onNew", command, idField, generateIdIfMissing: true });
    },
    on(command, { idField = "id" } = {}) {
      assertCommand(command);
      return service({ flow: "on", command, idField, generateIdIfMissing: false });
    },
    onMaybeNew(command, { idField = "id", generateIdIfMissing = false } = {}) {
      assertCommand(command);
      return service({ flow: "onMaybeNew", command, idField, generateIdIfMissing });
    },
    sync,
    stateService({ idField = "id" } = {}) {
      return async (message) => {
        const prepared = message.prepareAggregateId(idField);
        if (prepared.halted) return prepared;
        const current = await getState(prepared.aggregateMeta.id as string);
        if (!current) return prepared.return(Response.notFound());
        // A read is checked by the aggregate's own rule too, on the state it would show.
        const denied = await aggregateDenial(aggregate, prepared, current.state);
        return denied ? prepared.return(denied) : prepared.ok(current);
      };
    },
    getState,
    unload,
    loadedIds: () => [...slots.values()].filter((slot) => slot.loaded !== undefined).map((slot) => slot.id),
    close() {
      closed = true;
      for (const slot of [...slots.values()]) {
        clearTimers(slot);
        if (slot.pending === 0) remove(slot);
      }
    },
  };
}
