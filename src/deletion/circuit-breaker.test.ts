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
    expect(breaker.tryStart(1000)).toBeUndefined()
    expect(breaker.state(2003)).toBe('half-open')
    expect(breaker.tryStart(2003)).toBe('probe')
    expect(breaker.tryStart(2004)).toBeUndefined()
    expect(breaker.record(false, 2100, 'probe')).toBe('closed')
    expect(breaker.tryStart(2101)).toBe('attempt')
  })

  it('when the probe fails, then it stays open for another cool-off', () => {
    const breaker = new CircuitBreaker(settings)
    for (let at = 0; at < 4; at++) breaker.record(true, at)
    expect(breaker.tryStart(2500)).toBe('probe')
    expect(breaker.record(true, 2600, 'probe')).toBeUndefined()
    expect(breaker.state(3000)).toBe('open')
    expect(breaker.state(4600)).toBe('half-open')
  })

  it('when a probe let through is abandoned (it never ran), then the next attempt may probe, and the breaker stays half-open meanwhile', () => {
    const breaker = new CircuitBreaker(settings)
    for (let at = 0; at < 4; at++) breaker.record(true, at)
    expect(breaker.tryStart(2500)).toBe('probe')
    expect(breaker.tryStart(2501)).toBeUndefined()

    breaker.abandon('probe')

    expect(breaker.state(2502)).toBe('half-open')
    expect(breaker.tryStart(2502)).toBe('probe')
    expect(breaker.record(false, 2600, 'probe')).toBe('closed')
  })

  it('when an attempt let through before the breaker opened ends while the probe runs, then its outcome neither closes nor reopens the breaker: the probe decides', () => {
    const breaker = new CircuitBreaker(settings)
    expect(breaker.tryStart(0)).toBe('attempt')
    for (let at = 0; at < 4; at++) breaker.record(true, at, 'attempt')
    expect(breaker.tryStart(2500)).toBe('probe')

    expect(breaker.record(false, 2600, 'attempt')).toBeUndefined()
    expect(breaker.record(true, 2601)).toBeUndefined()
    expect(breaker.state(2602)).toBe('half-open')
    expect(breaker.tryStart(2602)).toBeUndefined()

    expect(breaker.record(false, 2700, 'probe')).toBe('closed')
  })

  it('when an ordinary attempt is abandoned while the probe runs, then the probe is not given back: no second probe starts beside it', () => {
    const breaker = new CircuitBreaker(settings)
    for (let at = 0; at < 4; at++) breaker.record(true, at, 'attempt')
    expect(breaker.tryStart(2500)).toBe('probe')

    breaker.abandon('attempt')

    expect(breaker.tryStart(2501)).toBeUndefined()
  })

  it('when a success brings the failure rate to the threshold, then the breaker stays closed: only a fault opens it', () => {
    const breaker = new CircuitBreaker(settings)
    breaker.record(true, 0)
    breaker.record(true, 1)
    breaker.record(false, 2)
    expect(breaker.record(false, 3)).toBeUndefined()
    expect(breaker.state(4)).toBe('closed')
    expect(breaker.record(true, 5)).toBe('opened')
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
