/**
 * All timing in the SDK goes through a Clock, so tests can run on a virtual one
 * (`VirtualClock` from `x3m-system/testing`) and never sleep.
 */
export interface Clock {
  /** Wall-clock time in epoch milliseconds. */
  now(): number;
  /** Runs `callback` once after `delayMs` (`Infinity`: never); returns a function that cancels it. */
  setTimeout(callback: () => void, delayMs: number): () => void;
}

/**
 * The longest delay the runtimes' `setTimeout` keeps (2^31−1 ms, ~24.8 days): a longer one fires at once
 * (Node prints a TimeoutOverflowWarning and waits 1 ms).
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * The real clock of the runtime (`Date.now` and the global `setTimeout`, which every runtime has). Delays
 * above `MAX_TIMER_DELAY_MS` are waited out in steps, never shortened; `Infinity` arms nothing.
 */
export const systemClock: Clock = {
  // biome-ignore lint/style/noRestrictedGlobals: the one place the core reads the real time.
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    if (delayMs === Number.POSITIVE_INFINITY) return () => {};
    let handle: ReturnType<typeof setTimeout>;
    const arm = (remaining: number) => {
      handle =
        remaining > MAX_TIMER_DELAY_MS
          ? setTimeout(() => arm(remaining - MAX_TIMER_DELAY_MS), MAX_TIMER_DELAY_MS)
          : setTimeout(callback, remaining);
    };
    arm(delayMs);
    return () => clearTimeout(handle);
  },
};
