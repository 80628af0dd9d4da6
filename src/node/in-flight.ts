/**
 * Counts the calls running on this node that have not answered yet (pending handlers, peers' requests,
 * accepted casts), so that a drain knows when the work in flight is done.
 */
export class InFlight {
  private count = 0;
  private readonly onEnded: () => void;

  /** @param onEnded runs after each call ends (the drain checks whether it is done). */
  constructor(onEnded: () => void) {
    this.onEnded = onEnded;
  }

  get size(): number {
    return this.count;
  }

  begin(): void {
    this.count++;
  }

  end(): void {
    this.count--;
    this.onEnded();
  }
}
