import type { RequesterDeletionCounts } from '../../../src/deletion/ports.js'
import { FailureQueue } from './timeline.js'

type Method = keyof RequesterDeletionCounts

/**
 * The mass-deletion guard's counters in memory, with the Cassandra adapter's semantics: one counter
 * per requester and hour, 0 until something is added; `add` adds its delta (a negative one gives
 * back) before it answers, so a `count` asked after an `add` answered sees it.
 *
 * `latency` runs before each call does anything (a test's means to interleave calls in flight);
 * `failNext(method, err)` makes one call throw without applying.
 */
export class InMemoryRequesterDeletionCounts implements RequesterDeletionCounts {
  private readonly counters = new Map<string, number>()
  private readonly failures = new FailureQueue<Method>()

  constructor(private readonly latency: (method: Method) => Promise<void> = async () => undefined) {}

  async add(requester: string, hour: number, delta: number): Promise<void> {
    await this.latency('add')
    this.failures.check('add')
    const key = JSON.stringify([requester, hour])
    this.counters.set(key, (this.counters.get(key) ?? 0) + delta)
  }

  async count(requester: string, hour: number): Promise<number> {
    await this.latency('count')
    this.failures.check('count')
    return this.counters.get(JSON.stringify([requester, hour])) ?? 0
  }

  failNext(method: Method, error: unknown): void {
    this.failures.add(method, error)
  }
}
