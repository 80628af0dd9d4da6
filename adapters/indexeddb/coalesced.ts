/**
 * Wraps `task` so that its runs never overlap: a call during a run asks for one more run after it (any
 * number of such calls coalesce into one), as long as `repeatWhile()` holds. Every caller awaits the
 * runs in progress.
 *
 * @example
 * const refresh = coalesced(async () => render(await readStatus()));
 * refresh(); refresh(); refresh(); // one run now, one more after it
 */
export function coalesced(task: () => Promise<void>, repeatWhile: () => boolean = () => true): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await task();
      } while (again && repeatWhile());
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
}
