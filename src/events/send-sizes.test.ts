import { describe, expect, it } from 'vitest'
import type { OutboxEntry } from '../store/cassandra-event-outbox.js'
import { recordBatchBytes, sendsOf } from './send-sizes.js'

let serial = 0
function entry(payloadBytes: number): OutboxEntry {
  const n = ++serial
  const head = JSON.stringify({ mid: `LP.1.${n}`, pad: '' })
  return { requestId: `req-${n}`, mid: `LP.1.${n}`, userId: `user-${n}`, payload: head.replace('""', `"${'x'.repeat(Math.max(0, payloadBytes - head.length))}"`), attempts: 0 }
}

describe('sendsOf', () => {
  it('when entries exceed the cap together, then they are cut into sends in their order, each within the cap', () => {
    const entries = Array.from({ length: 10 }, () => entry(1000))
    const sends = sendsOf(entries, 3500)
    expect(sends.flat()).toEqual(entries)
    expect(sends.map((s) => s.length)).toEqual([3, 3, 3, 1])
    for (const send of sends) expect(recordBatchBytes(send)).toBeLessThanOrEqual(3500)
  })

  it('when one entry alone is over the cap, then it goes in a send of its own and none is empty', () => {
    const [a, big, b] = [entry(100), entry(10_000), entry(100)]
    expect(sendsOf([a, big, b], 2000)).toEqual([[a], [big], [b]])
    expect(sendsOf([], 2000)).toEqual([])
  })

  it('counts bytes, not characters', () => {
    const wide = { ...entry(10), payload: 'é'.repeat(600) }
    expect(recordBatchBytes([wide])).toBeGreaterThan(1200)
  })
})
