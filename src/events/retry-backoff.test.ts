import { describe, expect, it } from 'vitest'
import { RetryBackoff } from './retry-backoff.js'

describe('the relay backoff', () => {
  it('when nothing has failed, then a try may go at once', () => {
    expect(new RetryBackoff({ firstMs: 1000, maxMs: 30_000 }).ready(0)).toBe(true)
  })

  it('when tries fail in a row, then the wait doubles from the first, up to the most', () => {
    const backoff = new RetryBackoff({ firstMs: 1000, maxMs: 5000 })
    const waits: number[] = []
    let now = 0
    for (let failure = 0; failure < 5; failure++) {
      backoff.failed(now)
      let wait = 0
      while (!backoff.ready(now + wait)) wait += 100
      waits.push(wait)
      now += wait
    }
    expect(waits).toEqual([1000, 2000, 4000, 5000, 5000])
  })

  it('when a try succeeds, then the next failure waits the first wait again', () => {
    const backoff = new RetryBackoff({ firstMs: 1000, maxMs: 30_000 })
    backoff.failed(0)
    backoff.failed(1000)
    backoff.succeeded()

    expect(backoff.ready(1001)).toBe(true)
    backoff.failed(2000)
    expect(backoff.ready(2999)).toBe(false)
    expect(backoff.ready(3000)).toBe(true)
  })

  it('when a jitter is set, then each wait is shortened by up to that part of it, at random, and never lengthened', () => {
    const waitFor = (draw: number) => {
      const backoff = new RetryBackoff({ firstMs: 60_000, maxMs: 900_000, jitter: 0.25 }, () => draw)
      backoff.failed(0)
      return backoff.readyAt()
    }
    expect(waitFor(0)).toBe(60_000)
    expect(waitFor(0.5)).toBe(52_500)
    expect(waitFor(0.999)).toBeGreaterThan(45_000)
    const capped = new RetryBackoff({ firstMs: 60_000, maxMs: 900_000, jitter: 0.25 }, () => 0.999)
    for (let failure = 0; failure < 10; failure++) capped.failed(0)
    expect(capped.readyAt()).toBeLessThanOrEqual(900_000)
    expect(capped.readyAt()).toBeGreaterThan(675_000)
  })
})
