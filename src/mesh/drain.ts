import type { Clock } from "../clock.ts";
import { type Logger, logTo } from "../logger.ts";
import type { Telemetry } from "../telemetry.ts";

/**
 * A node's life: `running` serves and dispatches; `draining` (after `drain()`) answers peers' new
 * requests with `try_another_node` while it finishes the ones in flight; `stopped` after it left.
 *
 * @example
 * if (node.state === "running") await node.drain();
 */
export type NodeState = "running" | "draining" | "stopped";

/**
 * Options of `node.drain`.
 *
 * @example
 * addEventListener("pagehide", () => void node.drain({ timeoutMs: 2_000 }));
 */
export interface DrainOptions {
  /** Longest wait for the work in flight; then the node leaves anyway, like `close()`. @default 30_000 */
  timeoutMs?: number;
}

/** @internal The `try_another_node` reason a draining node gives peers' new requests: the caller tries another node at once. */
export const DRAINING = "draining";

/** What a drain needs of its node. */
export interface DrainHost {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  /** Calls running on the node plus answers it awaits. */
  busy(): number;
  /** Tells every peer the node is draining, and stops announcing. */
  tellPeers(): void;
  /** Leaves like `close()`. */
  leave(): Promise<void>;
}

interface Draining {
  readonly startedAt: number;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly cancelTimer: () => void;
  finishing: boolean;
}

/**
 * A node's graceful leave (Spawn's GracefulShutdown): from `start` until the work in flight is done (or
 * `timeoutMs` passed) the node is `draining`; then it leaves.
 */
export class Drain {
  private draining: Draining | undefined;

  private readonly host: DrainHost;

  constructor(host: DrainHost) {
    this.host = host;
  }

  get active(): boolean {
    return this.draining !== undefined;
  }

  /** Starts draining (once; later calls get the same promise), resolved once the node left. */
  start(timeoutMs: number): Promise<void> {
    if (this.draining) return this.draining.done;
    const { clock, telemetry, nodeId } = this.host;
    const startedAt = clock.now();
    let resolve: () => void = () => {};
    const done = new Promise<void>((settle) => {
      resolve = settle;
    });
    const cancelTimer = clock.setTimeout(() => void this.finish(true), timeoutMs);
    this.draining = { startedAt, done, resolve, cancelTimer, finishing: false };
    this.host.tellPeers();
    telemetry.emit("draining_started", { time: startedAt, inFlight: this.host.busy() }, { node: nodeId });
    this.check();
    return done;
  }

  /** Work ended: drained once nothing runs here and no answer is awaited. */
  check(): void {
    if (this.draining && this.host.busy() === 0) void this.finish(false);
  }

  /** The node is closing (by the drain or by `close()`): nothing is left for the drain to finish. */
  halt(): void {
    const draining = this.draining;
    if (!draining) return;
    draining.finishing = true;
    draining.cancelTimer();
  }

  /** The node has closed: whoever awaits the drain is told. */
  closed(): void {
    this.draining?.resolve();
  }

  private async finish(forced: boolean): Promise<void> {
    const draining = this.draining;
    if (!draining || draining.finishing) return;
    draining.finishing = true;
    draining.cancelTimer();
    const { clock, telemetry, logger, nodeId } = this.host;
    const time = clock.now();
    const abandoned = this.host.busy();
    telemetry.emit(
      "draining_finished",
      { time, duration: time - draining.startedAt, abandoned },
      { node: nodeId, forced },
    );
    if (forced) {
      logTo(logger, "warn", "drain_forced", `node "${nodeId}" left before ${abandoned} call(s) in flight ended`, {
        data: { node: nodeId, abandoned },
      });
    }
    await this.host.leave();
  }
}
