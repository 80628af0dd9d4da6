/**
 * The telemetry events the SDK emits: the original X3m.System's names plus the ones this port
 * adds for the wire (`frame_rejected`, `late_reply_dropped`, `handler_failed`) and the mesh features
 * (`cast_*`, `topic_published`, `node_draining`, `draining_*`).
 * The table in docs/telemetry.md lists every one; a test keeps the two in step.
 */
export const TELEMETRY_EVENTS = [
  "discovering_service",
  "service_not_found",
  "service_found",
  "invoking_service",
  "service_responded",
  "checking_if_service_call_is_authorized",
  "service_request_received",
  "executing_service",
  "execution_finished",
  "register_local_services",
  "node_joined",
  "node_left",
  "frame_rejected",
  "late_reply_dropped",
  "handler_failed",
  "cast_rejected",
  "cast_failed",
  "topic_published",
  "node_draining",
  "draining_started",
  "draining_finished",
  "handle_msg",
  "new_aggr_spawned",
  "message_redelivered",
  "alarm_scheduled",
  "alarm_dispatched",
  "alarm_retry_scheduled",
  "alarm_dead_lettered",
  "alarm_store_failed",
  "sync_completed",
  "sync_failed",
  "sync_command_rejected",
] as const;

/** The name of an event the SDK emits: one of `TELEMETRY_EVENTS`. */
export type TelemetryEventName = (typeof TELEMETRY_EVENTS)[number];

/** One telemetry event. Times are epoch ms from the node's Clock; `duration` is in ms. */
export interface TelemetryEvent {
  readonly name: TelemetryEventName;
  readonly measurements: Readonly<Record<string, number>>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Receives one telemetry event, synchronously, inside the call that emitted it. */
export type TelemetryHandler = (event: TelemetryEvent) => void;

/**
 * A synchronous hook bus. Handlers run in the emitting call; one that throws is isolated (the SDK
 * never fails a dispatch because of telemetry).
 *
 * @example
 * const off = node.telemetry.on("service_responded", (e) => console.log(e.measurements.duration));
 */
export interface Telemetry {
  /** Subscribes to one event name, or to every event with `"*"`; returns the unsubscribe function. */
  on(name: TelemetryEventName | "*", handler: TelemetryHandler): () => void;
  /** True when at least one handler listens, so emitters can skip building metadata. */
  readonly active: boolean;
  /** Calls every handler of `name`, then every `"*"` handler, synchronously; a handler that throws is skipped. */
  emit(name: TelemetryEventName, measurements?: Record<string, number>, metadata?: Record<string, unknown>): void;
}

/** Creates a telemetry bus (each node has one; pass one to share it between nodes). */
export function createTelemetry(): Telemetry {
  const handlers = new Map<string, Set<TelemetryHandler>>();
  let count = 0;
  const run = (set: Set<TelemetryHandler> | undefined, event: TelemetryEvent) => {
    if (!set) return;
    for (const handler of set) {
      try {
        handler(event);
      } catch {
        // A broken telemetry handler must never break the dispatch that emitted the event.
      }
    }
  };
  return {
    get active() {
      return count > 0;
    },
    on(name, handler) {
      const set = handlers.get(name) ?? new Set<TelemetryHandler>();
      handlers.set(name, set);
      if (!set.has(handler)) {
        set.add(handler);
        count++;
      }
      return () => {
        if (set.delete(handler)) count--;
      };
    },
    emit(name, measurements = {}, metadata = {}) {
      if (count === 0) return;
      const event: TelemetryEvent = { name, measurements, metadata };
      run(handlers.get(name), event);
      run(handlers.get("*"), event);
    },
  };
}
