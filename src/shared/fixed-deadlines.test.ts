import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FixedDeadlines } from './fixed-deadlines.js'

describe('FixedDeadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('when deadlines are set at different times, then each is called once its own ms have passed, oldest first', () => {
    const deadlines = new FixedDeadlines(100)
    const called: string[] = []
    deadlines.add(() => called.push('a'))
    vi.advanceTimersByTime(40)
    deadlines.add(() => called.push('b'))

    vi.advanceTimersByTime(59)
    expect(called).toEqual([])
    vi.advanceTimersByTime(1)
    expect(called).toEqual(['a'])
    vi.advanceTimersByTime(39)
    expect(called).toEqual(['a'])
    vi.advanceTimersByTime(1)
    expect(called).toEqual(['a', 'b'])
    vi.advanceTimersByTime(1000)
    expect(called).toEqual(['a', 'b'])
  })

  it('when deadlines are cancelled, then they are never called, and those after them still are, on time', () => {
    const deadlines = new FixedDeadlines(100)
    const called: string[] = []
    const a = deadlines.add(() => called.push('a'))
    vi.advanceTimersByTime(10)
    const b = deadlines.add(() => called.push('b'))
    vi.advanceTimersByTime(10)
    deadlines.add(() => called.push('c'))
    deadlines.cancel(a)
    deadlines.cancel(b)
    deadlines.cancel(b)

    vi.advanceTimersByTime(99)
    expect(called).toEqual([])
    vi.advanceTimersByTime(1)
    expect(called).toEqual(['c'])
  })

  it('when every deadline was cancelled and a new one is set later, then the new one is called its full ms after it was set', () => {
    const deadlines = new FixedDeadlines(100)
    const called: string[] = []
    deadlines.cancel(deadlines.add(() => called.push('a')))
    vi.advanceTimersByTime(70)
    deadlines.add(() => called.push('b'))

    vi.advanceTimersByTime(99)
    expect(called).toEqual([])
    vi.advanceTimersByTime(1)
    expect(called).toEqual(['b'])
  })

  it('when a deadline is cancelled after it was called, then nothing changes for the others', () => {
    const deadlines = new FixedDeadlines(100)
    const called: string[] = []
    const a = deadlines.add(() => called.push('a'))
    vi.advanceTimersByTime(50)
    deadlines.add(() => called.push('b'))
    vi.advanceTimersByTime(50)
    deadlines.cancel(a)

    vi.advanceTimersByTime(50)
    expect(called).toEqual(['a', 'b'])
  })

  it('when a deadline is pending, then its timer does not keep the process alive', () => {
    const timers = vi.spyOn(globalThis, 'setTimeout')
    new FixedDeadlines(100).add(() => {})

    const timer = timers.mock.results[0]?.value as NodeJS.Timeout
    expect(timer.hasRef()).toBe(false)
    timers.mockRestore()
  })

  it('when the timer fires before `now` says the deadline is due, then it is called only once `now` reaches it', () => {
    let clock = 1000
    const deadlines = new FixedDeadlines(100, () => clock)
    const called: string[] = []
    deadlines.add(() => called.push('a'))

    clock += 99
    vi.advanceTimersByTime(100)
    expect(called).toEqual([])
    clock += 1
    vi.advanceTimersByTime(1)
    expect(called).toEqual(['a'])
  })
})
