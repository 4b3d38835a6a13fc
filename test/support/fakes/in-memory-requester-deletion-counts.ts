import type { MinuteCount, RequesterDeletionCounts } from '../../../src/deletion/ports.js'
import { FailureQueue } from './timeline.js'

type Method = keyof RequesterDeletionCounts

/**
 * The mass-deletion guard's counters in memory, with the Cassandra adapter's semantics: one counter
 * per requester and minute, absent until something is added; `add` adds its delta (a negative one
 * gives back) before it answers, so a `countsBetween` asked after an `add` answered sees it.
 *
 * `latency` runs before each call does anything (a test's means to interleave calls in flight);
 * `failNext(method, err)` makes one call throw without applying.
 */
export class InMemoryRequesterDeletionCounts implements RequesterDeletionCounts {
  private readonly counters = new Map<string, Map<number, number>>()
  private readonly failures = new FailureQueue<Method>()

  constructor(private readonly latency: (method: Method) => Promise<void> = async () => undefined) {}

  async add(requester: string, minute: number, delta: number): Promise<void> {
    await this.latency('add')
    this.failures.check('add')
    const minutes = this.counters.get(requester) ?? new Map<number, number>()
    minutes.set(minute, (minutes.get(minute) ?? 0) + delta)
    this.counters.set(requester, minutes)
  }

  async countsBetween(requester: string, fromMinute: number, toMinute: number): Promise<MinuteCount[]> {
    await this.latency('countsBetween')
    this.failures.check('countsBetween')
    return [...(this.counters.get(requester) ?? new Map<number, number>())]
      .filter(([minute]) => minute >= fromMinute && minute <= toMinute)
      .map(([minute, count]) => ({ minute, count }))
      .sort((a, b) => a.minute - b.minute)
  }

  failNext(method: Method, error: unknown): void {
    this.failures.add(method, error)
  }
}
