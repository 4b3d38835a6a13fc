import type { AuditRecord, AuditTrail } from '../../../src/deletion/ports.js'
import { FailureQueue, Timeline } from './timeline.js'

/**
 * The audit trail in memory: an append-only list of copies of the records, in order. Each append
 * goes to the timeline as `audit.append(<event>)`; `failNext` makes one append throw.
 */
export class InMemoryAuditTrail implements AuditTrail {
  readonly records: AuditRecord[] = []
  private readonly failures = new FailureQueue<'append'>()

  constructor(readonly timeline: Timeline = new Timeline()) {}

  failNext(error: unknown): this {
    this.failures.add('append', error)
    return this
  }

  async append(record: AuditRecord): Promise<void> {
    this.timeline.record('audit', 'append', record.event)
    this.failures.check('append')
    this.records.push(structuredClone(record))
  }

  /** The events recorded for one request, in order. */
  eventsOf(requestId: string): AuditRecord['event'][] {
    return this.records.filter((record) => record.requestId === requestId).map((record) => record.event)
  }
}
