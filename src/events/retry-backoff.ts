/**
 * When to try a failing dependency again: `firstMs` after a first failure, twice as long after each
 * further failure in a row, never longer than `maxMs`; a success starts over. The relay asks it
 * before reading the outbox, so a Kafka that stays down costs the shared Cassandra a read, and a
 * write per queued event, only every so often instead of every tick.
 */
export class RetryBackoff {
  private failures = 0
  private notBefore = 0

  /**
   * `jitter` (0 to 1, none by default): each wait is shortened by up to that part of it, at random
   * (`random`, uniform in [0, 1)), so tries that failed together do not all come back together.
   */
  constructor(
    private readonly settings: { firstMs: number; maxMs: number; jitter?: number },
    private readonly random: () => number = Math.random,
  ) {}

  /** Whether a try may go now. */
  ready(nowMs: number): boolean {
    return nowMs >= this.notBefore
  }

  /** When a try may go (ms since the epoch; 0 when nothing failed). */
  readyAt(): number {
    return this.notBefore
  }

  failed(nowMs: number): void {
    this.failures++
    const wait = Math.min(this.settings.maxMs, this.settings.firstMs * 2 ** (this.failures - 1))
    const jitter = this.settings.jitter ? wait * this.settings.jitter * this.random() : 0
    this.notBefore = nowMs + Math.round(wait - jitter)
  }

  succeeded(): void {
    this.failures = 0
    this.notBefore = 0
  }
}
