import { describe, expect, it } from 'vitest'
import { HeldBackEvents } from './held-back-events.js'

const BACKOFF = { firstMs: 60_000, maxMs: 240_000, jitter: 0.25 }

describe('HeldBackEvents', () => {
  it('when an event is held back, then it is said to be the first time once, and passed by until its wait is over', () => {
    const held = new HeldBackEvents(BACKOFF, 4, () => 0)

    expect(held.hold('a', 0)).toBe(true)
    expect(held.size).toBe(1)
    expect([...held.passedBy(59_999)]).toEqual(['a'])
    expect([...held.passedBy(60_000)]).toEqual([])

    expect(held.hold('a', 60_000)).toBe(false)
    expect(held.size).toBe(1)
  })

  it('when it is refused again and again, then its wait doubles up to the most, each shortened at random by up to the jitter', () => {
    const held = new HeldBackEvents(BACKOFF, 4, () => 0)
    const waits: number[] = []
    let now = 0
    for (let refusal = 0; refusal < 4; refusal++) {
      held.hold('a', now)
      let wait = 0
      while ([...held.passedBy(now + wait)].includes('a')) wait += 1000
      waits.push(wait)
      now += wait
    }
    expect(waits).toEqual([60_000, 120_000, 240_000, 240_000])

    const spread = new HeldBackEvents(BACKOFF, 4, () => 0.5)
    spread.hold('b', 0)
    expect([...spread.passedBy(52_499)]).toEqual(['b'])
    expect([...spread.passedBy(52_500)]).toEqual([])
  })

  it('when more held-back events are ready than a pass sends again, then those ready longest are not passed by, and the others are until a later pass', () => {
    const held = new HeldBackEvents(BACKOFF, 2, () => 0)
    held.hold('c', 2000)
    held.hold('a', 0)
    held.hold('d', 3000)
    held.hold('b', 1000)
    held.hold('waiting', 50_000)

    expect(new Set(held.passedBy(63_000))).toEqual(new Set(['c', 'd', 'waiting']))
  })

  it('when a held-back event is published, or leaves the listing, then it is no longer held back', () => {
    const held = new HeldBackEvents(BACKOFF, 4, () => 0)
    held.hold('a', 0)
    held.hold('b', 0)
    held.hold('c', 0)

    expect(held.forget('a')).toBe(true)
    expect(held.forget('a')).toBe(false)
    held.forgetUnlisted(new Set(['a', 'c', 'x']))

    expect(held.size).toBe(1)
    expect([...held.passedBy(0)]).toEqual(['c'])
    expect(held.hold('b', 0)).toBe(true)
  })
})
