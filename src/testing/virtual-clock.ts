import type { Clock } from "../clock.ts";

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** Lets pending promise chains run: a few macrotask turns of the real runtime, no virtual time. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

/**
 * A Clock whose time moves only when a test says so, so timeout and scheduling tests never sleep.
 *
 * @example
 * import { VirtualClock } from "x3m-system/testing";
 * const clock = new VirtualClock();
 * const node = createNode({ clock });
 * const pending = node.dispatch(msg, { timeoutMs: 100 });
 * await clock.advance(100); // the dispatch now resolves with service_timeout
 */
export class VirtualClock implements Clock {
  private time: number;
  private nextId = 0;
  private timers: Timer[] = [];

  /** @param startAt epoch ms the clock starts at; @default 2026-01-01T00:00:00Z */
  constructor(startAt = 1_767_225_600_000) {
    this.time = startAt;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): () => void {
    const timer = { id: this.nextId++, at: this.time + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promise chains run between them. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (!next || next.at > until) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.callback();
      await settle();
    }
    this.time = until;
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers) {
      if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
