import { describe, expect, it } from 'vitest'
import { PartitionWaits } from './partition-waits.js'

const BACKOFF = { firstMs: 1000, maxMs: 4000 }
const events = (...ids: string[]) => ids.map((requestId) => ({ requestId }))

describe('PartitionWaits', () => {
  it('when no send has failed, then no partition waits and nothing is passed by; events met are not remembered', () => {
    const waits = new PartitionWaits(10, BACKOFF)
    waits.remember(0, events('a'))

    expect(waits.isWaiting(0, 0)).toBe(false)
    expect(waits.hasFailed(0)).toBe(false)
    expect(waits.anyWaiting(0)).toBe(false)
    expect([...waits.passedBy(0)]).toEqual([])
    expect(waits.overflowWaitOver(0)).toBe(true)
  })

  it("when a partition's send fails, then it waits, its events passed by, until its wait is over; then it is tried again (after the others) and its events read", () => {
    const waits = new PartitionWaits(10, BACKOFF)
    waits.failed(1, events('a', 'b'), 0)

    expect(waits.isWaiting(1, 999)).toBe(true)
    expect(waits.isWaiting(0, 999)).toBe(false)
    expect(waits.anyWaiting(999)).toBe(true)
    expect([...waits.passedBy(999)]).toEqual(['a', 'b'])

    expect(waits.isWaiting(1, 1000)).toBe(false)
    expect(waits.anyWaiting(1000)).toBe(false)
    expect([...waits.passedBy(1000)]).toEqual([])
    expect(waits.hasFailed(1)).toBe(true)
  })

  it('when its sends keep failing, then its wait doubles, up to the most; once its events all went, it waits the first wait again', () => {
    const waits = new PartitionWaits(10, BACKOFF)
    const waitAfterFailureAt = (now: number) => {
      waits.failed(2, events('a'), now)
      let wait = 0
      while (waits.isWaiting(2, now + wait)) wait += 100
      return wait
    }
    expect([waitAfterFailureAt(0), waitAfterFailureAt(1000), waitAfterFailureAt(3000), waitAfterFailureAt(7000)]).toEqual([1000, 2000, 4000, 4000])

    waits.sent(2)
    expect(waits.hasFailed(2)).toBe(false)
    expect([...waits.passedBy(11_000)]).toEqual([])
    expect(waitAfterFailureAt(20_000)).toBe(1000)
  })

  it('when a waiting partition is met again in a pass, then its new events are remembered too, once each', () => {
    const waits = new PartitionWaits(10, BACKOFF)
    waits.failed(0, events('a'), 0)
    waits.remember(0, events('a', 'b'))
    waits.remember(1, events('c'))

    expect([...waits.passedBy(0)]).toEqual(['a', 'b'])
  })

  it('when a remembered event is published, or leaves the listing, then it is forgotten; the partition still waits', () => {
    const waits = new PartitionWaits(10, BACKOFF)
    waits.failed(0, events('a', 'b', 'c'), 0)
    waits.failed(1, events('d'), 0)

    waits.forget('b')
    waits.forgetUnlisted(new Set(['a', 'b', 'd', 'x']))

    expect([...waits.passedBy(0)]).toEqual(['a', 'd'])
    expect(waits.isWaiting(0, 0)).toBe(true)
  })

  it('when more events wait than it remembers, across partitions, then no more than that are remembered and the pass ends overflowed; the relay then waits as a whole, said once, longer while passes keep overflowing', () => {
    const waits = new PartitionWaits(3, BACKOFF)
    waits.failed(0, events('a', 'b'), 0)
    waits.failed(1, events('c', 'd', 'e'), 0)

    expect(new Set(waits.passedBy(0))).toEqual(new Set(['a', 'b', 'c']))
    expect(waits.endPass(0)).toEqual({ overflowed: true, first: true })
    expect(waits.overflowWaitOver(999)).toBe(false)
    expect(waits.overflowWaitOver(1000)).toBe(true)

    waits.remember(1, events('d'))
    expect(waits.endPass(1000)).toEqual({ overflowed: true, first: false })
    expect(waits.overflowWaitOver(2999)).toBe(false)
    expect(waits.overflowWaitOver(3000)).toBe(true)
  })

  it('when a pass meets only events it remembers already, or room was made, then it ends within the cap: the wait as a whole is over and the next overflow is said again', () => {
    const waits = new PartitionWaits(2, BACKOFF)
    waits.failed(0, events('a', 'b', 'c'), 0)
    expect(waits.endPass(0)).toEqual({ overflowed: true, first: true })

    waits.remember(0, events('a', 'b'))
    expect(waits.endPass(1000)).toEqual({ overflowed: false, first: false })
    expect(waits.overflowWaitOver(1000)).toBe(true)

    waits.forget('a')
    waits.remember(0, events('c'))
    expect(waits.endPass(1000)).toEqual({ overflowed: false, first: false })
    expect([...waits.passedBy(999)]).toEqual(['b', 'c'])

    waits.failed(1, events('d'), 1000)
    expect(waits.endPass(1000)).toEqual({ overflowed: true, first: true })
    expect(waits.overflowWaitOver(1999)).toBe(false)
  })

  it('when its events all went, then a partition frees the room its events held', () => {
    const waits = new PartitionWaits(2, BACKOFF)
    waits.failed(0, events('a', 'b'), 0)
    waits.sent(0)
    waits.failed(1, events('c', 'd'), 0)

    expect(waits.endPass(0)).toEqual({ overflowed: false, first: false })
    expect([...waits.passedBy(0)]).toEqual(['c', 'd'])
  })

  it('when the partitions are numbered anew (another count), then every wait is dropped, its events no longer passed by, and it says whether any partition waited', () => {
    const waits = new PartitionWaits(10, BACKOFF)
    expect(waits.clear()).toBe(false)
    waits.failed(1, events('a', 'b'), 0)

    expect(waits.clear()).toBe(true)
    expect(waits.isWaiting(1, 0)).toBe(false)
    expect(waits.hasFailed(1)).toBe(false)
    expect([...waits.passedBy(0)]).toEqual([])
    expect(waits.clear()).toBe(false)
  })

  it("when the topic's partition count changes while a partition waits, then its waits are dropped and that is said; the first count met, the same count again, or a change with none waiting drop nothing", () => {
    const waits = new PartitionWaits(10, BACKOFF)
    waits.failed(1, events('a'), 0)
    expect(waits.renumbered(3)).toBe(false)
    expect(waits.renumbered(3)).toBe(false)
    expect(waits.hasFailed(1)).toBe(true)

    expect(waits.renumbered(6)).toBe(true)
    expect(waits.hasFailed(1)).toBe(false)
    expect([...waits.passedBy(0)]).toEqual([])
    expect(waits.renumbered(3)).toBe(false)
  })
})
