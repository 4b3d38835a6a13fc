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
    this.notBefore = nowMs + backoffWaitMs(this.settings, this.failures, this.random)
  }

  succeeded(): void {
    this.failures = 0
    this.notBefore = 0
  }
}

/**
 * The wait after `failures` failures in a row (1 or more), as RetryBackoff counts it: `firstMs`
 * doubled per failure after the first, at most `maxMs`, shortened by up to `jitter` of it at random.
 * For a caller that keeps its count of failures elsewhere (a deletion request's owed steps: see compose.ts).
 */
export function backoffWaitMs(settings: { firstMs: number; maxMs: number; jitter?: number }, failures: number, random: () => number = Math.random): number {
  const wait = Math.min(settings.maxMs, settings.firstMs * 2 ** (Math.max(1, failures) - 1))
  const jitter = settings.jitter ? wait * settings.jitter * random() : 0
  return Math.round(wait - jitter)
}
