import {
  type AnyAggregate,
  type Clock,
  createAggregateHost,
  createTelemetry,
  foldEvents,
  initialStateOf,
  type Message,
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
import { type OfflineStore, openOfflineStore } from "./offline-store.ts";
import type { OutboxRow } from "./outbox.ts";
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
  /** Commands not yet accepted by the edge (every tab's). */
  readonly pending: number;
  /** Commands the edge refused, kept until acknowledged. */
  readonly rejected: number;
  /** When the last successful sync round ended (epoch ms), from whichever tab synced. */
  readonly lastSyncAt: number | null;
  /** The last round's error, `null` after a successful round. */
  readonly lastError: string | null;
}

export interface OfflineClientOptions {
  /** The IndexedDB store (`openIndexedDbEventStore`): it mirrors the confirmed events and holds the outbox. */
  readonly store: IndexedDbEventStore;
  /** The aggregates this client runs offline, by the name the edge's sync endpoint knows them by. */
  readonly aggregates: Readonly<Record<string, AnyAggregate>>;
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
  /** Commands per push request. @default 50 */
  readonly batchSize?: number;
  /** Retry delays after a failed round: doubling from `initialMs` up to `maxMs`. @default { initialMs: 500, maxMs: 30_000 } */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** How often the syncing tab pulls tracked aggregates when nothing else happens; 0 turns it off. @default 15_000 */
  readonly pullIntervalMs?: number;
  /** This tab's id (recorded on the rows it makes). @default a random id */
  readonly tabId?: string;
}

export interface OfflineServiceOptions {
  /** The `rawRequest` field holding the aggregate id. @default "id" */
  readonly idField?: string;
}

/** Services and reads for one aggregate type, run locally and synced (see `OfflineClient.aggregate`). */
export interface OfflineAggregate<TAggregate extends AnyAggregate> {
  /** Creates the aggregate (the id is the message id when missing, as on the edge). */
  onNew(command: keyof TAggregate["commands"] & string, options?: OfflineServiceOptions): ServiceHandler;
  /** Acts on an aggregate this tab knows (pulled or created here): `not_found` otherwise. */
  on(command: keyof TAggregate["commands"] & string, options?: OfflineServiceOptions): ServiceHandler;
  /** Acts on the aggregate, creating it when it is unknown. */
  onMaybeNew(command: keyof TAggregate["commands"] & string, options?: OfflineServiceOptions): ServiceHandler;
  /** The local view: confirmed events plus the tentative ones of commands not yet confirmed. */
  view(aggregateId: string): Promise<AggregateView<StateOf<TAggregate>>>;
}

/** An aggregate as this browser sees it. */
export interface AggregateView<TState> {
  readonly state: TState;
  /** Confirmed version (-1 when the edge has confirmed nothing yet). */
  readonly confirmedVersion: number;
  /** Confirmed plus tentative events. */
  readonly version: number;
  readonly confirmed: readonly RecordedEvent[];
  /** Events of commands waiting for the edge, in command order. */
  readonly tentative: readonly unknown[];
}

/**
 * The browser side of offline-first sync. Commands run locally on the same aggregate definitions the
 * edge runs; their events are kept as tentative and the command queued in IndexedDB (one transaction)
 * before the app is answered. One tab at a time (Web Locks) pushes every tab's queue to the edge, which
 * re-executes each command and de-duplicates by message id; confirmed events are pulled and replace
 * the tentative ones in one transaction. Rejected commands are reported and never block the queue.
 */
export interface OfflineClient {
  /** Services for a router, and the local view, of one aggregate type. */
  aggregate<TName extends string>(name: TName): OfflineAggregate<AnyAggregate>;
  /** Keeps this aggregate pulled on every sync, so it can be used offline later. */
  track(aggregate: string, aggregateId: string): Promise<void>;
  status(): SyncStatus;
  /** Calls `listener` whenever the status or any aggregate view may have changed (in any tab). */
  subscribe(listener: (status: SyncStatus) => void): () => void;
  /** Calls `listener` once per rejected command this tab has not reported yet (including ones found at start). */
  onRejected(listener: (row: OutboxRow) => void): () => void;
  /** The queue: pending, applied-not-yet-pulled and rejected commands, in order. */
  outbox(): Promise<OutboxRow[]>;
  /** Forgets a rejected command (the app has shown it). */
  acknowledge(messageId: string): Promise<void>;
  /**
   * The app's offline switch, shared by every tab of the database: `false` forces offline, `true` forces
   * online, `"auto"` follows the browser.
   */
  setOnline(online: boolean | "auto"): void;
  /**
   * Asks for a sync round now: this tab runs it when it is the syncing tab (resolving when the round
   * ended, successfully or not: read `status()`), else it rings the tab that syncs and resolves at once.
   */
  syncNow(): Promise<void>;
  /** Stops syncing and listening; resolves once the sync round in flight (if any) has ended. */
  close(): Promise<void>;
}

function randomTabId(): string {
  return `tab-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Creates the offline client of one database.
 *
 * @example
 * import { openIndexedDbEventStore, createOfflineClient } from "x3m-system/indexeddb";
 * const store = await openIndexedDbEventStore({ name: "bank" });
 * const offline = createOfflineClient({ store, aggregates: { account }, endpoint: { url: "/sync", headers: () => ({ authorization: "Bearer …" }) } });
 * const accounts = offline.aggregate("account");
 * node.register(defineRouter({ name: "accounts", services: { open_account: accounts.onNew("open"), deposit: accounts.on("deposit") }, authorize }));
 * offline.onRejected((row) => toast(`${row.command.serviceName} refused: ${row.response?.status}`));
 */
export function createOfflineClient(options: OfflineClientOptions): OfflineClient {
  const clock = options.clock ?? systemClock;
  const telemetry = options.telemetry ?? createTelemetry();
  const tabId = options.tabId ?? randomTabId();
  const locks =
    options.locks === undefined
      ? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
      : (options.locks ?? undefined);
  const store: OfflineStore = openOfflineStore(options.store, clock);
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
  /** Re-reads what every tab shares (counts, last sync, the offline switch) and tells listeners. */
  const refresh = coalesced(
    async () => {
      if (closed) return;
      const summary = await store.summary();
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
    batchSize: options.batchSize ?? 50,
    backoff: { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 },
    pullIntervalMs: options.pullIntervalMs ?? 15_000,
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

  const viewOf = (name: string, confirmed: readonly RecordedEvent[], rows: readonly OutboxRow[]) => {
    const aggregate = aggregateOf(name);
    const tentative = rows.filter((row) => row.status !== "rejected").flatMap((row) => row.events);
    const state = foldEvents(
      aggregate,
      foldEvents(
        aggregate,
        initialStateOf(aggregate),
        confirmed.map((event) => event.data),
      ),
      tentative,
    );
    const confirmedVersion = confirmed.length === 0 ? -1 : (confirmed[confirmed.length - 1] as RecordedEvent).version;
    return { state, confirmedVersion, version: confirmedVersion + tentative.length, confirmed, tentative };
  };

  const view = async (name: string, aggregateId: string): Promise<AggregateView<unknown>> => {
    const { confirmed, rows } = await store.readView(`${aggregateOf(name).name}-${aggregateId}`);
    return viewOf(name, confirmed, rows);
  };

  const hosts = new Map<string, ReturnType<typeof makeHost>>();
  const makeHost = (name: string) => {
    const aggregate = aggregateOf(name);
    return createAggregateHost(aggregate, {
      store: options.store,
      clock,
      telemetry,
      async whenNotLoaded({ stream }) {
        // One read transaction: the confirmed events and the queue of this stream, seen together.
        const { confirmed, rows } = await store.readView(stream);
        const current = viewOf(name, confirmed, rows);
        if (current.version === -1) return undefined;
        const processed = new Map<string, Response>();
        for (const event of confirmed) {
          const { messageId, response } = event.metadata as { messageId?: unknown; response?: Response };
          if (typeof messageId === "string" && response) processed.set(messageId, response);
        }
        for (const row of rows) if (row.localResponse) processed.set(row.messageId, row.response ?? row.localResponse);
        return { state: current.state, version: current.version, processed };
      },
      async saveEvents(context) {
        const version = await store.enqueue({
          aggregate: name,
          aggregateId: context.aggregateId,
          stream: context.stream,
          result: context.message,
          events: context.events,
          expectedVersion: context.expectedVersion,
          tab: tabId,
        });
        doorbell.ring("outbox");
        loop.wake();
        refreshSoon();
        return { ok: true, version };
      },
    });
  };
  const hostFor = (name: string) => {
    let host = hosts.get(name);
    if (!host) {
      host = makeHost(name);
      hosts.set(name, host);
    }
    return host;
  };

  const offlineService =
    (name: string, flow: "onNew" | "on" | "onMaybeNew", command: string, idField: string): ServiceHandler =>
    async (message: Message) => {
      const prepared = message.prepareAggregateId(idField, { generateIfMissing: flow === "onNew" });
      if (prepared.halted) return prepared;
      const aggregateId = prepared.aggregateMeta.id as string;
      const host = hostFor(name);
      const service = host[flow](command as never, { idField });
      const run = async () => {
        try {
          return await service(prepared);
        } finally {
          // Other tabs write too: the next command reads the store again instead of a cached state.
          host.unload(aggregateId);
        }
      };
      // One command of an aggregate at a time across every tab, so local decisions see each other.
      if (!locks) return run();
      const lockName = `x3m-system:aggregate:${options.store.db.name}:${name}:${aggregateId}`;
      return (await locks.request(lockName, { mode: "exclusive" }, run)) as Message;
    };

  void refresh();
  return {
    aggregate(name) {
      aggregateOf(name);
      return {
        onNew: (command, { idField = "id" } = {}) => offlineService(name, "onNew", command, idField),
        on: (command, { idField = "id" } = {}) => offlineService(name, "on", command, idField),
        onMaybeNew: (command, { idField = "id" } = {}) => offlineService(name, "onMaybeNew", command, idField),
        view: (aggregateId) => view(name, aggregateId) as Promise<AggregateView<never>>,
      };
    },
    async track(aggregate, aggregateId) {
      aggregateOf(aggregate);
      await store.track(aggregate, aggregateId);
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
    async close() {
      closed = true;
      refreshTimer?.();
      doorbell.close();
      for (const host of hosts.values()) host.close();
      await loop.close();
      await refresh(); // waits for a refresh in flight; starts none
    },
  };
}
