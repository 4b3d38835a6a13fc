import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { createLogger } from '../logging/logger.js'
import type { OutboxEntry } from '../store/cassandra-event-outbox.js'
import { type Acknowledged, PublicationRecords } from './publication-records.js'

const BACKOFF = { firstMs: 1000, maxMs: 4000 }
const NOT_RECORDED_LINE = 'event on the topic; its publication not recorded yet'

/** `count` events Kafka acknowledged at the same moment. */
function acknowledged(count: number): Acknowledged[] {
  const at = new Date()
  return Array.from({ length: count }, (_, n) => ({ entry: { requestId: `req-${n}`, mid: `LP.1.${n}`, userId: `user-${n}`, payload: '{}', attempts: 0 }, at }))
}
const ids = (list: readonly Acknowledged[]) => list.map(({ entry }) => entry.requestId)

/** Records over a store that refuses the request ids in `refusing` (with `error`), and keeps the others in `stored`, in the order made. */
function recordsOver(refusing: Set<string>, error: unknown = new DependencyUnavailableError('cassandra')) {
  const lines: Record<string, unknown>[] = []
  const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) })
  const counted = { record: 0 }
  const metrics = {
    countEventPublishFailures(reason: 'kafka' | 'record', events: number) {
      counted[reason as 'record'] += events
    },
  }
  const stored: string[] = []
  const tries: string[] = []
  const record = async (entry: OutboxEntry) => {
    tries.push(entry.requestId)
    if (refusing.has(entry.requestId)) throw error
    stored.push(entry.requestId)
  }
  return { records: new PublicationRecords(record, { log, metrics }, BACKOFF), lines, counted, stored, tries }
}

describe('PublicationRecords', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('when every record is made, then each acknowledged event is recorded once, in order, and none is owed', async () => {
    const { records, stored, counted, lines } = recordsOver(new Set())
    const events = acknowledged(40)

    expect(await records.recordAll(events)).toEqual(ids(events))

    expect(stored).toEqual(ids(events))
    expect(records.owes()).toBe(false)
    expect(records.ready(Date.now())).toBe(true)
    expect(counted.record).toBe(0)
    expect(lines).toEqual([])
  })

  it("when a record is refused, then the rest of its chunk is recorded, and it and every event after its chunk are owed, untried, counted and warned of by the error's name only", async () => {
    const events = acknowledged(40)
    const { records, stored, tries, counted, lines } = recordsOver(new Set(['req-20']), new Error('refused: VALUES (secret@example.org)'))

    const recorded = await records.recordAll(events)

    // Chunks of 16: the first whole, the second (16 to 31) but the refused one; the third never tried.
    const firstChunks = ids(events.slice(0, 32))
    expect(recorded).toEqual(firstChunks.filter((id) => id !== 'req-20'))
    expect(stored).toEqual(recorded)
    expect(tries).toEqual(firstChunks)
    expect(records.owes()).toBe(true)
    const owed = ['req-20', ...ids(events.slice(32))]
    expect(counted.record).toBe(owed.length)
    const warned = lines.filter((l) => l.msg === NOT_RECORDED_LINE)
    expect(warned.map((l) => l.requestId)).toEqual(owed)
    expect(warned[0]).toMatchObject({ requestId: 'req-20', mid: 'LP.1.20', err: 'Error' })
    expect(JSON.stringify(lines)).not.toContain('secret@example.org')
  })

  it('when records are owed, then the wait before they are tried again grows while they keep failing; once made, none is owed and no wait is left', async () => {
    const refusing = new Set(['req-1'])
    const { records, stored, tries } = recordsOver(refusing)
    expect(await records.recordAll(acknowledged(3))).toEqual(['req-0', 'req-2'])
    expect(records.ready(Date.now() + BACKOFF.firstMs - 1)).toBe(false)
    expect(records.ready(Date.now() + BACKOFF.firstMs)).toBe(true)

    vi.setSystemTime(Date.now() + BACKOFF.firstMs)
    tries.length = 0
    expect(await records.recordOwed()).toEqual([])
    // Only the owed one is tried again: the others of its chunk were recorded.
    expect(tries).toEqual(['req-1'])
    expect(records.ready(Date.now() + 2 * BACKOFF.firstMs - 1)).toBe(false)

    refusing.clear()
    vi.setSystemTime(Date.now() + 2 * BACKOFF.firstMs)
    expect(await records.recordOwed()).toEqual(['req-1'])
    expect(stored).toEqual(['req-0', 'req-2', 'req-1'])
    expect(records.owes()).toBe(false)
    expect(records.ready(Date.now())).toBe(true)

    // Made, the wait starts over: a refusal after it waits the first wait again.
    refusing.add('req-1')
    await records.recordAll(acknowledged(3))
    expect(records.ready(Date.now() + BACKOFF.firstMs - 1)).toBe(false)
    expect(records.ready(Date.now() + BACKOFF.firstMs)).toBe(true)
  })

  it('when a record is refused with something other than an error, then its warning says error', async () => {
    const { records, lines } = recordsOver(new Set(['req-0']), 'no')
    await records.recordAll(acknowledged(1))

    expect(lines.find((l) => l.msg === NOT_RECORDED_LINE)).toMatchObject({ requestId: 'req-0', err: 'error' })
  })
})
