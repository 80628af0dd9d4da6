/**
 * Exact death detection with Web Locks: each node holds a lock named after itself for as long as it
 * lives; the browser releases it when the page closes, navigates, or crashes. A peer that queues for
 * that lock is granted it at exactly that moment, with no timer involved (timers in hidden tabs are
 * throttled to once a minute, so heartbeats alone would either be slow or drop live background tabs).
 */

/** The lock a node holds while it lives. */
export function lifeLockName(channel: string, nodeId: string): string {
  return `x3m-system:bc:${channel}:${nodeId}`;
}

/** Takes this node's life lock; resolves once it is held. `release` lets it go. */
export async function holdLifeLock(locks: LockManager, name: string): Promise<{ release(): void }> {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  await new Promise<void>((granted, failed) => {
    locks
      .request(name, { mode: "exclusive" }, () => {
        granted();
        return released;
      })
      .catch(failed);
  });
  return { release };
}

/**
 * Calls `onGone` when the holder of `name` lets its lock go (it closed or died). Aborting `signal`
 * stops watching without calling `onGone`.
 */
export function watchLifeLock(locks: LockManager, name: string, signal: AbortSignal, onGone: () => void): void {
  locks
    .request(name, { mode: "exclusive", signal }, () => {
      if (!signal.aborted) onGone();
    })
    .catch(() => {
      // Aborted on purpose (the peer left by other means, or we closed): nothing to report.
    });
}
