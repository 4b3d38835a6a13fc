import { describe, expect, it } from 'vitest'
import { CircuitBreaker } from './circuit-breaker.js'

const settings = { windowMs: 10_000, minAttempts: 4, failureRate: 0.5, coolOffMs: 2000 }

describe('the circuit breaker of a batch job', () => {
  it('when fewer attempts than the minimum failed, then it stays closed', () => {
    const breaker = new CircuitBreaker(settings)
    expect([breaker.record(true, 0), breaker.record(true, 1), breaker.record(true, 2)]).toEqual([undefined, undefined, undefined])
    expect(breaker.state(3)).toBe('closed')
  })

  it('when the failure rate in the window reaches the threshold, then it opens, lets one probe through after the cool-off, and closes when the probe succeeds', () => {
    const breaker = new CircuitBreaker(settings)
    breaker.record(false, 0)
    breaker.record(false, 1)
    breaker.record(true, 2)
    expect(breaker.record(true, 3)).toBe('opened')
    expect(breaker.tryStart(1000)).toBe(false)
    expect(breaker.state(2003)).toBe('half-open')
    expect(breaker.tryStart(2003)).toBe(true)
    expect(breaker.tryStart(2004)).toBe(false)
    expect(breaker.record(false, 2100)).toBe('closed')
    expect(breaker.tryStart(2101)).toBe(true)
  })

  it('when the probe fails, then it stays open for another cool-off', () => {
    const breaker = new CircuitBreaker(settings)
    for (let at = 0; at < 4; at++) breaker.record(true, at)
    expect(breaker.tryStart(2500)).toBe(true)
    expect(breaker.record(true, 2600)).toBeUndefined()
    expect(breaker.state(3000)).toBe('open')
    expect(breaker.state(4600)).toBe('half-open')
  })

  it('when a probe let through is abandoned (it never ran), then the next attempt may probe, and the breaker stays half-open meanwhile', () => {
    const breaker = new CircuitBreaker(settings)
    for (let at = 0; at < 4; at++) breaker.record(true, at)
    expect(breaker.tryStart(2500)).toBe(true)
    expect(breaker.tryStart(2501)).toBe(false)

    breaker.abandon()

    expect(breaker.state(2502)).toBe('half-open')
    expect(breaker.tryStart(2502)).toBe(true)
    expect(breaker.record(false, 2600)).toBe('closed')
  })

  it('when the failures are older than the window, then they no longer count', () => {
    const breaker = new CircuitBreaker(settings)
    breaker.record(true, 0)
    breaker.record(true, 1)
    breaker.record(false, 20_000)
    breaker.record(false, 20_001)
    expect(breaker.record(true, 20_002)).toBeUndefined()
    expect(breaker.state(20_003)).toBe('closed')
  })
})
