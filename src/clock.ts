/**
 * All timing in the SDK goes through a Clock, so tests can run on a virtual one
 * (`VirtualClock` from `x3m-system/testing`) and never sleep.
 */
export interface Clock {
  /** Wall-clock time in epoch milliseconds. */
  now(): number;
  /** Runs `callback` once after `delayMs`; returns a function that cancels it. */
  setTimeout(callback: () => void, delayMs: number): () => void;
}

/** The real clock of the runtime (`Date.now` and the global `setTimeout`, which every runtime has). */
export const systemClock: Clock = {
  // biome-ignore lint/style/noRestrictedGlobals: the one place the core reads the real time.
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return () => clearTimeout(handle);
  },
};
