// Kept out of worker.ts: a Worker's main module may export only handlers and Durable Object classes.

/** A 64-character test secret for WebSocket tickets (a real deployment uses a Worker secret). */
export const TEST_TICKET_SECRET = "x3m-test-ticket-secret-0123456789abcdef0123456789abcdef01234567";

/** The edge's clock, counting the timers armed right now: a connection object must hold none while idle. */
export const edgeClock = {
  armed: 0,
  now: () => Date.now(),
  setTimeout(callback: () => void, delayMs: number) {
    edgeClock.armed++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      edgeClock.armed--;
    };
    const handle = setTimeout(() => {
      finish();
      callback();
    }, delayMs);
    return () => {
      finish();
      clearTimeout(handle);
    };
  },
};
