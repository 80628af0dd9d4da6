import {
  type AggregateRoute,
  type AnyAggregate,
  type Clock,
  type CommandNameOf,
  createAggregateHost,
  createTelemetry,
  describeError,
  type EventStore,
  foldEvents,
  initialStateOf,
  Message,
  type MessageData,
  mapResponse,
  type RecordedEvent,
  type Response,
  type ServiceHandler,
  type StateOf,
  systemClock,
  type Telemetry,
} from "../../src/index.ts";
import { coalesced } from "./coalesced.ts";
import { type Doorbell, openDoorbell } from "./doorbell.ts";
import type { IndexedDbEventStore } from "./event-store.ts";
import { createLivePokes, type LiveOptions } from "./live-pokes.ts";
import { type OfflineStore, openOfflineStore, type StreamView } from "./offline-store.ts";
import { countsInView, type OutboxRow } from "./outbox.ts";
import { createSyncLoop, type SyncLoop } from "./sync-loop.ts";
import type { SyncEndpoint } from "./sync-protocol.ts";

/** What a tab can observe about sync. */
export interface SyncStatus {
  /** Whether the client may talk to the edge now (the browser's view, or the app's override). */
  readonly online: boolean;
  /** Whether this tab is the one that syncs (holds the sync lock). */
  readonly leader: boolean;
  /** Whether a sync round is running in this tab. */
  readonly syncing: boolean;
  /** Commands not yet answered by the edge (every tab's). */
  readonly pending: number;
  /**
   * Pending commands that fail when run again on the newest confirmed state (e.g. a withdraw that no
   * longer fits): the edge will probably refuse them; warn early.
   */
  readonly conflicts: number;
  /** Commands the edge refused, kept until acknowledged. */
  readonly rejected: number;
  /** When the last successful sync round ended (epoch ms), from whichever tab synced. */
  readonly lastSyncAt: number | null;
  /**
   * The last round's error, `null` after a successful round; or, while the status itself cannot be read
   * (a storage error), why: the client reads it again, backing off, until it can.
   */
  readonly lastError: string | null;
}

/** Options of `createOfflineClient`. */
export interface OfflineClientOptions<TAggregates extends Readonly<Record<string, AnyAggregate>>> {
  /** The IndexedDB store (`openIndexedDbEventStore`): it mirrors the confirmed events and holds the outbox. */
  readonly store: IndexedDbEventStore;
  /** The aggregates this client runs offline, by the name the edge's sync endpoint knows them by. */
  readonly aggregates: TAggregates;
  /** The edge's sync endpoint. */
  readonly endpoint: SyncEndpoint;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly telemetry?: Telemetry;
  /** Web Locks: one tab syncs at a time, and local commands of one aggregate run one at a time across tabs. @default navigator.locks */
  readonly locks?: LockManager | null;
  /** The doorbell channel between tabs. @default globalThis.BroadcastChannel */
  readonly BroadcastChannel?: new (
    name: string,
  ) => BroadcastChannel;
  /** Where `online` / `offline` events are heard; `null` to decide only with `setOnline`. @default globalThis */
  readonly connectivity?: EventTarget | null;
  /** Commands per push request. @default 200 */
  readonly batchSize?: number;
  /** Most events per changes request. @default 5_000 */
  readonly changesLimit?: number;
  /** Retry delays after a failed round: doubling from `initialMs` up to `maxMs`. @default { initialMs: 500, maxMs: 30_000 } */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /**
   * Live pokes: the syncing tab keeps a WebSocket to the edge (`defineConnectionObject`; it hibernates
   * there, so an idle client costs nothing), tells it which aggregates this client tracks, and runs a
   * round as soon as one of them commits. Without it, changes arrive on the pull interval.
   */
  readonly live?: LiveOptions;
  /**
   * How often the syncing tab asks for changes when nothing else happens (with `live`, a fallback for a
   * lost poke); 0 turns it off. @default 15_000
   */
  readonly pullIntervalMs?: number;
  /** This tab's id (recorded on the rows it makes). @default a random id */
  readonly tabId?: string;
}

/** Options of the offline services `onNew`, `on` and `onMaybeNew`: where the aggregate id is read from. */
export interface OfflineServiceOptions {
  /** The `rawRequest` field holding the aggregate id. @default "id" */
  readonly idField?: string;
}

/** A queued command as the view shows it. */
export interface PendingCommand {
  readonly messageId: string;
  readonly status: OutboxRow["status"];
  /** What the command answered when it last ran here. */
  readonly localResponse: Response | null;
  /** Set when it fails on the newest confirmed state (see `SyncStatus.conflicts`). */
  readonly localFailure?: Response;
}

/** An aggregate as this browser sees it: confirmed events, then the pending commands run again on them. */
export interface AggregateView<TState> {
  readonly state: TState;
  /** Confirmed version (-1 when the edge has confirmed nothing yet). */
  readonly confirmedVersion: number;
  /** Confirmed plus tentative events. */
  readonly version: number;
  readonly confirmed: readonly RecordedEvent[];
  /** Events of commands waiting for the edge, in command order. */
  readonly tentative: readonly unknown[];
  /** The commands behind the tentative events (and rejected ones not yet acknowledged). */
  readonly commands: readonly PendingCommand[];
}

/** Services and reads for one aggregate type, run locally and synced (see `OfflineClient.aggregate`). */
export interface OfflineAggregate<TAggregate extends AnyAggregate> {
  /** Creates the aggregate (the id is the message id when missing, as on the edge). */
  onNew(command: CommandNameOf<TAggregate>, options?: OfflineServiceOptions): ServiceHandler;
  /** Acts on an aggregate this browser knows (pulled or created here): `not_found` otherwise. */
  on(command: CommandNameOf<TAggregate>, options?: OfflineServiceOptions): ServiceHandler;
  /** Acts on the aggregate, creating it when it is unknown. */
  onMaybeNew(command: CommandNameOf<TAggregate>, options?: OfflineServiceOptions): ServiceHandler;
  /** The local view: confirmed events plus the tentative ones of commands not yet confirmed. */
  view(aggregateId: string): Promise<AggregateView<StateOf<TAggregate>>>;
}

/**
 * The browser side of offline-first sync (protocol 2). Commands run locally on the same aggregate
 * definitions the edge runs; each is queued in IndexedDB with its tentative events and its client
 * sequence number (one transaction) before the app is answered. One tab at a time (Web Locks) pushes
 * every tab's queue to the edge, which runs each command exactly once by its sequence; one changes request
 * brings every tracked aggregate's confirmed events, and pending commands are run again on them (rebase).
 * Rejected commands are reported and never block the queue.
 */
export interface OfflineClient<TAggregates extends Readonly<Record<string, AnyAggregate>>> {
  /** Services for a router, and the local view, of one aggregate type. */
  aggregate<TName extends keyof TAggregates & string>(name: TName): OfflineAggregate<TAggregates[TName]>;
  /** Keeps this aggregate in the changes asked for on every sync, so it can be used offline later. */
  track(aggregate: keyof TAggregates & string, aggregateId: string): Promise<void>;
  /** The sync status as this tab knows it now (synchronous; `subscribe` tells of changes). */
  status(): SyncStatus;
  /** Calls `listener` whenever the status or any aggregate view may have changed (in any tab). */
  subscribe(listener: (status: SyncStatus) => void): () => void;
  /** Calls `listener` once per rejected command this tab has not reported yet (including ones found at start). */
  onRejected(listener: (row: OutboxRow) => void): () => void;
  /** The queue: pending, applied-not-yet-confirmed and rejected commands, in order. */
  outbox(): Promise<OutboxRow[]>;
  /** Forgets a rejected command (the app has shown it). */
  acknowledge(messageId: string): Promise<void>;
  /**
   * The app's offline switch, shared by every tab of the database: `false` forces offline, `true` forces
   * online, `"auto"` follows the browser.
   */
  setOnline(online: boolean | "auto"): void;
  /**
   * Asks for a sync round now (e.g. on a live poke from the edge): this tab runs it when it is the syncing
   * tab (resolving when the round ended, successfully or not: read `status()`), else it rings the tab that
   * syncs and resolves at once.
   */
  syncNow(): Promise<void>;
  /** This database's client id (what the edge orders its commands by). */
  clientId(): Promise<string>;
  /** Stops syncing and listening; resolves once the sync round in flight (if any) has ended. */
  close(): Promise<void>;
}

function randomTabId(): string {
  return `tab-${crypto.randomUUID().slice(0, 8)}`;
}

/** The request the edge runs: the command as it arrived, without anything the local run added. */
function requestOf(result: Message): MessageData {
  const { events: _events, response: _response, request: _request, halted: _halted, ...rest } = result.toJSON();
  return Message.parse({ ...rest, events: [], response: null, halted: false, valid: true, aggregateMeta: {} }).toJSON();
}

/** A tab's write found the stream changed since it read it (another tab or a sync wrote it): run again. */
const STREAM_MOVED = "x3m: the stream changed while the command ran";
const movedMeanwhile = (reply: Message) => {
  const reason = reply.response?.status === "error" ? (reply.response.reason as { message?: unknown }) : undefined;
  return reason?.message === STREAM_MOVED;
};

/** The view of a stream: confirmed events folded, then the tentative events of the commands that count. */
function viewOf(aggregate: AnyAggregate, view: StreamView): AggregateView<unknown> {
  const live = view.rows.filter((row) => countsInView(row, view.edgeSeq));
  const tentative = live.flatMap((row) => row.events);
  const confirmedVersion = view.confirmed.at(-1)?.version ?? -1;
  const state = foldEvents(
    aggregate,
    foldEvents(
      aggregate,
      initialStateOf(aggregate),
      view.confirmed.map((event) => event.data),
    ),
    tentative,
  );
  const commands = view.rows
    .filter((row) => row.status === "rejected" || countsInView(row, view.edgeSeq))
    .map(({ messageId, status, localResponse, localFailure }) => ({
      messageId,
      status,
      localResponse,
      ...(localFailure ? { localFailure } : {}),
    }));
  return {
    state,
    confirmedVersion,
    version: confirmedVersion + tentative.length,
    confirmed: view.confirmed,
    tentative,
    commands,
  };
}

/**
 * Creates the offline client of one database. Names, commands and states are typed from `aggregates`.
 *
 * @example
 * import { openIndexedDbEventStore, createOfflineClient } from "x3m-system/indexeddb";
 * const store = await openIndexedDbEventStore({ name: "bank" });
 * const offline = createOfflineClient({ store, aggregates: { account }, endpoint: { url: "/x3m/sync", headers: () => ({ authorization: "Bearer …" }) } });
 * const accounts = offline.aggregate("account");
 * node.register(defineRouter({ name: "accounts", services: { open_account: accounts.onNew("open"), deposit: accounts.on("deposit") }, authorize }));
 * offline.onRejected((row) => toast(`${row.command.serviceName} refused: ${row.response?.status}`));
 */
export function createOfflineClient<const TAggregates extends Readonly<Record<string, AnyAggregate>>>(
  options: OfflineClientOptions<TAggregates>,
): OfflineClient<TAggregates> {
  const clock = options.clock ?? systemClock;
  const telemetry = options.telemetry ?? createTelemetry();
  const tabId = options.tabId ?? randomTabId();
  const locks =
    options.locks === undefined
      ? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
      : (options.locks ?? undefined);
  const store: OfflineStore = openOfflineStore(options.store);
  const listeners = new Set<(status: SyncStatus) => void>();
  const rejectedListeners = new Set<(row: OutboxRow) => void>();
  const reported = new Set<string>();
  let forcedStamp = 0;
  let closed = false;

  let status: SyncStatus = {
    online: true,
    leader: false,
    syncing: false,
    pending: 0,
    conflicts: 0,
    rejected: 0,
    lastSyncAt: null,
    lastError: null,
  };

  let refreshTimer: (() => void) | undefined;
  /** Coalesces bursts (a command per millisecond must not cost a status read each). */
  const refreshSoon = () => {
    refreshTimer ??= clock.setTimeout(() => {
      refreshTimer = undefined;
      void refresh();
    }, 10);
  };
  let statusRetry: (() => void) | undefined;
  let statusReadFailures = 0;
  /** Re-reads what every tab shares (counts, last sync, the offline switch) and tells listeners. */
  const refresh = coalesced(
    async () => {
      if (closed) return;
      let summary: Awaited<ReturnType<OfflineStore["summary"]>>;
      try {
        summary = await store.summary();
      } catch (error) {
        // A failed read (a transient storage error) must not leave the counts stale until the next change:
        // read again, backing off, and say why meanwhile.
        statusReadFailures++;
        statusRetry ??= clock.setTimeout(
          () => {
            statusRetry = undefined;
            void refresh();
          },
          Math.min(5_000, 50 * 2 ** Math.min(statusReadFailures - 1, 10)),
        );
        const reason = describeError(error).message;
        status = { ...status, ...loop.local(), lastError: `the sync status could not be read: ${reason}` };
        for (const listener of listeners) listener(status);
        return;
      }
      statusReadFailures = 0;
      // The offline switch is shared: another tab may have flipped it since (a newer stamp).
      if (summary.forced.stamp > forcedStamp) {
        forcedStamp = summary.forced.stamp;
        loop.setOnline(summary.forced.online ?? "auto");
      }
      status = { ...status, ...summary.counts, ...summary.status, ...loop.local() };
      for (const row of summary.rejectedRows) {
        // Reported only to a listener: one registered later still hears about it.
        if (reported.has(row.messageId) || rejectedListeners.size === 0) continue;
        reported.add(row.messageId);
        for (const listener of rejectedListeners) listener(row);
      }
      for (const listener of listeners) listener(status);
    },
    () => !closed,
  );

  const doorbell: Doorbell = openDoorbell(
    options.store.db.name,
    (what) => {
      if (what === "outbox") loop.wake();
      void refresh();
    },
    options.BroadcastChannel,
  );

  const loop: SyncLoop = createSyncLoop({
    store,
    endpoint: options.endpoint,
    aggregates: options.aggregates,
    clock,
    locks,
    lockName: `x3m-system:sync-leader:${options.store.db.name}`,
    connectivity: options.connectivity === undefined ? globalThis : (options.connectivity ?? undefined),
    batchSize: options.batchSize ?? 200,
    changesLimit: options.changesLimit ?? 5_000,
    backoff: { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 },
    pullIntervalMs: options.pullIntervalMs ?? 15_000,
    ...(options.live
      ? {
          live: createLivePokes({
            live: options.live,
            endpoint: options.endpoint,
            clock,
            onPoke: () => loop.wake(),
          }),
        }
      : {}),
    telemetry,
    onChange(rang) {
      if (rang) doorbell.ring("synced");
      void refresh();
    },
  });

  const aggregateOf = (name: string): AnyAggregate => {
    const aggregate = options.aggregates[name];
    if (!aggregate || !Object.hasOwn(options.aggregates, name)) throw new Error(`no offline aggregate "${name}"`);
    return aggregate;
  };
  const streamOf = (name: string, aggregateId: string) => `${aggregateOf(name).name}-${aggregateId}`;

  /** Per tab: the stamp of each stream as its host last read or wrote it; another stamp means "read it again". */
  const stamps = new Map<string, number>();
  /** Per command in flight: its route (for the row) and the fact that it has no recorded answer. */
  const inFlight = new Map<string, AggregateRoute>();
  /** Commands queued by this tab: their row is their recorded answer. */
  const queuedHere = new Set<string>();

  const makeHost = (name: string) => {
    const aggregate = aggregateOf(name);
    // The host keeps its aggregates loaded between commands; the store it sees knows the outbox.
    const hostStore: EventStore = {
      ...options.store,
      // `peek` already looked for an answer in the same read as the stamp: nothing to find for these.
      findAnswer: async (stream, messageId) =>
        inFlight.has(messageId) ? undefined : (await store.peek(stream, messageId)).answer,
      recordAnswer: async (stream, answer) => {
        if (queuedHere.delete(answer.messageId)) return; // its outbox row records it
        await options.store.recordAnswer(stream, answer);
      },
    };
    return createAggregateHost(aggregate, {
      store: hostStore,
      clock,
      telemetry,
      async whenNotLoaded({ stream }) {
        // One read transaction: confirmed events, the queue and the stamp of this stream, seen together.
        const read = await store.readView(stream);
        stamps.set(stream, read.stamp);
        const current = viewOf(aggregate, read);
        if (current.version === -1) return undefined;
        const processed = new Map<string, Response>();
        for (const event of read.confirmed) {
          const { messageId, response } = event.metadata as { messageId?: unknown; response?: Response };
          if (typeof messageId === "string" && response) processed.set(messageId, response);
        }
        for (const row of read.rows) {
          const answer = row.response ?? row.localResponse;
          if (answer) processed.set(row.messageId, answer);
        }
        return { state: current.state, version: current.version, processed };
      },
      async saveEvents(context) {
        const route = inFlight.get(context.message.id) as AggregateRoute;
        const version = context.expectedVersion + context.events.length;
        const queued = await store.enqueue(
          {
            messageId: context.message.id,
            aggregate: name,
            aggregateId: context.aggregateId,
            stream: context.stream,
            route,
            command: requestOf(context.message),
            events: [...context.events],
            localResponse: mapResponse(
              context.message.response,
              context.expectedVersion === -1 ? "new" : "existing",
              context.aggregateId,
              version,
            ),
            tab: tabId,
            createdAt: clock.now(),
          },
          stamps.get(context.stream) ?? -1,
        );
        if (!queued) throw new Error(STREAM_MOVED);
        stamps.set(context.stream, queued.stamp);
        queuedHere.add(context.message.id);
        doorbell.ring("outbox");
        loop.wake();
        refreshSoon();
        return { ok: true, version };
      },
    });
  };
  const hosts = new Map<string, ReturnType<typeof makeHost>>();
  const hostFor = (name: string) => {
    let host = hosts.get(name);
    if (!host) {
      host = makeHost(name);
      hosts.set(name, host);
    }
    return host;
  };

  /** Without Web Locks (tests, old runtimes): commands of one aggregate still run one at a time in this tab. */
  const localTails = new Map<string, Promise<unknown>>();
  const exclusively = <T>(key: string, task: () => Promise<T>): Promise<T> => {
    if (locks) return locks.request(key, { mode: "exclusive" }, task) as Promise<T>;
    const run = (localTails.get(key) ?? Promise.resolve()).then(task, task);
    localTails.set(
      key,
      run.catch(() => {}),
    );
    return run;
  };

  const offlineService =
    (name: string, route: AggregateRoute): ServiceHandler =>
    async (message: Message) => {
      const prepared = message.prepareAggregateId(route.idField, { generateIfMissing: route.generateIdIfMissing });
      if (prepared.halted) return prepared;
      const aggregateId = prepared.aggregateMeta.id as string;
      const stream = streamOf(name, aggregateId);
      const host = hostFor(name);
      const service = host[route.flow](route.command as never, {
        idField: route.idField,
        ...(route.flow === "onMaybeNew" ? { generateIdIfMissing: route.generateIdIfMissing } : {}),
      });
      const run = async (): Promise<Message> => {
        let reply = prepared;
        // A stream another tab (or the sync) wrote between the read and the write is read again, and the
        // command run again on it; a handful of tries is plenty, as commands of one aggregate hold a lock.
        for (let attempt = 0; attempt < 5; attempt++) {
          const { stamp, answer } = await store.peek(stream, message.id);
          if (answer) return message.return(answer); // answered before: never run again
          if (stamps.get(stream) !== stamp) {
            host.unload(aggregateId);
            await host.getState(aggregateId); // loads the view as of `stamp` or later
          }
          inFlight.set(message.id, route);
          try {
            reply = (await service(prepared)) as Message;
          } finally {
            inFlight.delete(message.id);
          }
          if (!movedMeanwhile(reply)) return reply;
          host.unload(aggregateId);
        }
        return reply;
      };
      // One command of an aggregate at a time across every tab, so local decisions see each other.
      return exclusively(`x3m-system:aggregate:${options.store.db.name}:${name}:${aggregateId}`, run);
    };

  void refresh();
  return {
    aggregate(name) {
      aggregateOf(name);
      const route = (flow: AggregateRoute["flow"], command: string, idField: string, generateIdIfMissing: boolean) => {
        if (!(command in aggregateOf(name).commands))
          throw new Error(`aggregate "${name}" has no command "${command}"`);
        return offlineService(name, { flow, command, idField, generateIdIfMissing });
      };
      return {
        onNew: (command, { idField = "id" } = {}) => route("onNew", command, idField, true),
        on: (command, { idField = "id" } = {}) => route("on", command, idField, false),
        onMaybeNew: (command, { idField = "id" } = {}) => route("onMaybeNew", command, idField, false),
        view: async (aggregateId) =>
          viewOf(aggregateOf(name), await store.readView(streamOf(name, aggregateId))) as AggregateView<never>,
      };
    },
    async track(aggregate, aggregateId) {
      await store.track(aggregate, aggregateId, streamOf(aggregate, aggregateId));
      loop.wake();
    },
    status: () => status,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onRejected(listener) {
      rejectedListeners.add(listener);
      void refresh();
      return () => rejectedListeners.delete(listener);
    },
    outbox: () => store.outbox(),
    async acknowledge(messageId) {
      await store.acknowledge(messageId);
      doorbell.ring("synced");
      await refresh();
    },
    setOnline(online) {
      loop.setOnline(online);
      // Shared with every tab (the syncing tab may be another one): stored, then rung. The stamp orders
      // switches, so a read from before this one never flips it back.
      forcedStamp = Math.max(clock.now(), forcedStamp + 1);
      void store.setForcedOnline(online === "auto" ? undefined : online, forcedStamp).then(() => {
        doorbell.ring("synced");
        return refresh();
      });
    },
    async syncNow() {
      if (loop.local().leader) await loop.round();
      else doorbell.ring("outbox");
      await refresh();
    },
    clientId: () => store.clientId(),
    async close() {
      closed = true;
      refreshTimer?.();
      statusRetry?.();
      doorbell.close();
      for (const host of hosts.values()) host.close();
      await loop.close();
      await refresh(); // waits for a refresh in flight; starts none
    },
  };
}
