import type { EventOutbox } from '../../../src/deletion/ports.js'
import { FailureQueue, Timeline } from './timeline.js'

interface Entry {
  mid: string
  /** The payload: gone once the relay has published it (until a run writes the event again). */
  event?: Record<string, unknown>
  publishedAt?: Date
}

/**
 * The event outbox in memory, with the Cassandra adapter's semantics: one event per request, a
 * later append for the same request (the same mid: build-event.ts) writes it again and keeps its
 * publication, and the state is 'queued' until the relay marks it published, which clears the
 * payload (the adapter's relay clears it again when a run wrote it back after the publication).
 * Every append goes to the timeline as `outbox.append`; `appends` counts them all.
 */
export class InMemoryEventOutbox implements EventOutbox {
  /** Every append call, in order, including the ones that wrote a request's event again. */
  readonly appends: { requestId: string; mid: string }[] = []
  private readonly entries = new Map<string, Entry>()
  private readonly failures = new FailureQueue<keyof EventOutbox>()

  constructor(readonly timeline: Timeline = new Timeline()) {}

  failNext(method: keyof EventOutbox, error: unknown): this {
    this.failures.add(method, error)
    return this
  }

  async append(requestId: string, event: Record<string, unknown>): Promise<void> {
    this.timeline.record('outbox', 'append')
    this.failures.check('append')
    this.appends.push({ requestId, mid: String(event.mid) })
    // A plain write, as the adapter's: the latest event for the request, its publication kept.
    const publishedAt = this.entries.get(requestId)?.publishedAt
    this.entries.set(requestId, { mid: String(event.mid), event: structuredClone(event), ...(publishedAt && { publishedAt }) })
  }

  async state(requestId: string): Promise<'queued' | 'published' | undefined> {
    this.timeline.record('outbox', 'state')
    this.failures.check('state')
    const entry = this.entries.get(requestId)
    if (!entry) return undefined
    return entry.publishedAt ? 'published' : 'queued'
  }

  /** The relay's side: the event reached the topic, and its payload is cleared. */
  markPublished(requestId: string, at: Date): this {
    const entry = this.entries.get(requestId)
    if (!entry) throw new Error(`no event for ${requestId}`)
    entry.publishedAt = at
    delete entry.event
    return this
  }

  /** The stored event of a request (a copy), or undefined: none appended, or published since. */
  eventOf(requestId: string): Record<string, unknown> | undefined {
    const event = this.entries.get(requestId)?.event
    return event && structuredClone(event)
  }

  /** The mid stored for a request (kept after publication), or undefined. */
  midOf(requestId: string): string | undefined {
    return this.entries.get(requestId)?.mid
  }

  size(): number {
    return this.entries.size
  }
}
