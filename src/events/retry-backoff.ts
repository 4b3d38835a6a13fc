/**
 * When to try a failing dependency again: `firstMs` after a first failure, twice as long after each
 * further failure in a row, never longer than `maxMs`; a success starts over. The relay asks it
 * before reading the outbox, so a Kafka that stays down costs the shared Cassandra a read, and a
 * write per queued event, only every so often instead of every tick.
 */
export class RetryBackoff {
  private failures = 0
  private notBefore = 0

  constructor(private readonly settings: { firstMs: number; maxMs: number }) {}

  /** Whether a try may go now. */
  ready(nowMs: number): boolean {
    return nowMs >= this.notBefore
  }

  failed(nowMs: number): void {
    this.failures++
    this.notBefore = nowMs + Math.min(this.settings.maxMs, this.settings.firstMs * 2 ** (this.failures - 1))
  }

  succeeded(): void {
    this.failures = 0
    this.notBefore = 0
  }
}
