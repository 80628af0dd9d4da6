import type { Clock } from "../../src/index.ts";

/** The slice of a Durable Object's storage that drives its one alarm. */
export interface DurableAlarmStorage {
  /** Sets the object's one alarm to `scheduledTime` (epoch ms), replacing the previous one. */
  setAlarm(scheduledTime: number): Promise<void>;
  /** The time the alarm is set for (epoch ms), or `null` when none is set. */
  getAlarm(): Promise<number | null>;
  /** Clears the alarm, if one is set. */
  deleteAlarm(): Promise<void>;
}

interface Timer {
  readonly id: number;
  readonly lane: string;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A Clock whose timers live on the object's single alarm: every user of the clock (the scheduler, an
 * aggregate host's idle timers, a projector's polling) is one lane, and the alarm is always armed to the
 * earliest timer of all lanes. Call `fire()` from the object's `alarm()` handler.
 *
 * Timers are kept in memory: after an eviction they are gone, which is why durable users (the scheduler)
 * keep their due times in storage and re-arm from it when the object starts again.
 */
export interface AlarmClock extends Clock {
  /** A view of this clock whose timers are reported under `name` in `lanes()`. */
  lane(name: string): Clock;
  /** Runs every timer that is due, then re-arms the alarm to the next one (or deletes it); answers how many ran. */
  fire(): number;
  /**
   * `fire()` again within the same `alarm()` call (the alarm it re-armed is still pending): runs the timers
   * that became due since, e.g. the next page of a scheduler's backlog. Answers how many ran.
   */
  runDue(): number;
  /** The next due time of each lane with a timer. */
  lanes(): Record<string, number>;
  /** Re-arms the alarm when storage holds none, or one in the past that never fired (cloudflare-docs #18324). */
  watchdog(): Promise<void>;
}

/**
 * Creates the alarm clock of a Durable Object.
 *
 * @example
 * import { createAlarmClock } from "x3m-system/durable-objects";
 * const clock = createAlarmClock(ctx.storage);
 * const scheduler = createScheduler({ dispatcher, store: createSqlAlarmStore(ctx.storage), clock: clock.lane("scheduler") });
 * // in the class: async alarm() { await runSchedulerAlarm(clock, scheduler); }
 */
export function createAlarmClock(storage: DurableAlarmStorage, options: { now?: () => number } = {}): AlarmClock {
  const now = options.now ?? (() => Date.now());
  const timers = new Map<number, Timer>();
  let nextId = 0;
  // What storage's alarm is set to: a time, null for none, undefined when not known (a failed write).
  let armedAt: number | null | undefined;

  // The earliest due time, cached: adding a timer compares with it, and only cancelling or firing the
  // earliest timer rescans (scheduling n timers was O(n²) without it).
  let cachedEarliest: number | null | undefined;
  const earliest = (): number | null => {
    if (cachedEarliest === undefined) {
      cachedEarliest = null;
      for (const timer of timers.values())
        if (cachedEarliest === null || timer.at < cachedEarliest) cachedEarliest = timer.at;
    }
    return cachedEarliest;
  };

  const arm = () => {
    const at = earliest();
    if (at === armedAt) return;
    armedAt = at;
    // setAlarm(Date.now()) from inside alarm() is silently dropped by workerd (#6866): never arm before now + 1.
    const write = at === null ? storage.deleteAlarm() : storage.setAlarm(Math.max(at, now() + 1));
    write.catch(() => {
      armedAt = undefined; // the watchdog or the next timer change tries again
    });
  };

  const schedule = (lane: string, callback: () => void, delayMs: number) => {
    const timer: Timer = { id: nextId++, lane, at: now() + Math.max(0, delayMs), callback };
    timers.set(timer.id, timer);
    if (cachedEarliest !== undefined && (cachedEarliest === null || timer.at < cachedEarliest))
      cachedEarliest = timer.at;
    arm();
    return () => {
      if (!timers.delete(timer.id)) return;
      if (timer.at === cachedEarliest) cachedEarliest = undefined;
      arm();
    };
  };

  const clock: AlarmClock = {
    now,
    setTimeout: (callback, delayMs) => schedule("default", callback, delayMs),
    lane: (name) => ({ now, setTimeout: (callback, delayMs) => schedule(name, callback, delayMs) }),
    fire() {
      armedAt = null; // the alarm that called us is spent: the platform cleared it
      return clock.runDue();
    },
    runDue() {
      const time = now();
      const due = [...timers.values()].filter((timer) => timer.at <= time).sort((a, b) => a.at - b.at || a.id - b.id);
      if (due.length > 0) cachedEarliest = undefined;
      for (const timer of due) {
        timers.delete(timer.id);
        try {
          timer.callback();
        } catch {
          // One lane's failure must not stop the others' timers.
        }
      }
      arm();
      return due.length;
    },
    lanes() {
      const next: Record<string, number> = {};
      for (const timer of timers.values()) next[timer.lane] = Math.min(next[timer.lane] ?? timer.at, timer.at);
      return next;
    },
    async watchdog() {
      const at = earliest();
      if (at === null) return;
      const stored = await storage.getAlarm();
      if (stored === null || stored < now() - 1_000) {
        armedAt = undefined;
        arm();
      }
    },
  };
  return clock;
}
