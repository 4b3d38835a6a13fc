import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { itemAt } from '../test/support/item-at.js'
import { deferred } from '../test/support/wait-until.js'
import { MAX_INTERVAL_MS, startPeriodicJobs, type PeriodicJob } from './background-jobs.js'
import { DependencyUnavailableError } from './deletion/errors.js'
import type { Logger } from './logging/logger.js'

/** A job whose every pass waits until the test finishes it. */
function manualJob(name: string, intervalMs: number) {
  const passes: ReturnType<typeof deferred<void>>[] = []
  const job: PeriodicJob = {
    name,
    intervalMs,
    run: () => {
      const pass = deferred()
      passes.push(pass)
      return pass.promise
    },
  }
  return { job, passes }
}

function recordingLogger() {
  const lines: { level: 'debug' | 'warn'; fields: Record<string, unknown> }[] = []
  const logger = {
    debug: (fields: Record<string, unknown>) => lines.push({ level: 'debug', fields }),
    warn: (fields: Record<string, unknown>) => lines.push({ level: 'warn', fields }),
  } as unknown as Logger
  return { logger, lines }
}

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('startPeriodicJobs', () => {
  it('when a pass is still running at the next tick, then no second pass starts until it ends', async () => {
    // Arrange
    const { job, passes } = manualJob('sweeper', 100)
    const jobs = startPeriodicJobs([job], recordingLogger().logger)

    // Act + Assert
    await vi.advanceTimersByTimeAsync(100)
    expect(passes).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(500)
    expect(passes).toHaveLength(1)

    itemAt(passes, 0, 'pass').resolve()
    await vi.advanceTimersByTimeAsync(100)
    expect(passes).toHaveLength(2)

    itemAt(passes, 1, 'pass').resolve()
    await jobs.stop()
  })

  it('when stop() is called during a pass, then it resolves only after that pass has ended', async () => {
    // Arrange
    const { job, passes } = manualJob('sweeper', 100)
    const jobs = startPeriodicJobs([job], recordingLogger().logger)
    await vi.advanceTimersByTimeAsync(100)
    const order: string[] = []

    // Act
    const stopped = jobs.stop().then(() => order.push('stopped'))
    await vi.advanceTimersByTimeAsync(0)
    order.push('pass ending')
    itemAt(passes, 0, 'pass').resolve()
    await stopped

    // Assert
    expect(order).toEqual(['pass ending', 'stopped'])
  })

  it('when stop() has resolved, then no further pass starts', async () => {
    const { job, passes } = manualJob('sweeper', 100)
    const jobs = startPeriodicJobs([job], recordingLogger().logger)

    await jobs.stop()
    await vi.advanceTimersByTimeAsync(1_000)

    expect(passes).toHaveLength(0)
  })

  it('when a job has an interval longer than a timer can wait (2^31-1 ms), then starting is refused and no job runs: Node would run it every millisecond', async () => {
    const { logger } = recordingLogger()
    const often = manualJob('often', 1000)
    const tooLong = manualJob('event-relay', 3_000_000_000)

    expect(() => startPeriodicJobs([often.job, tooLong.job], logger)).toThrow(RangeError)

    await vi.advanceTimersByTimeAsync(5000)
    expect(often.passes).toHaveLength(0)
    expect(tooLong.passes).toHaveLength(0)
    // The longest a timer keeps is still taken.
    await startPeriodicJobs([manualJob('longest', MAX_INTERVAL_MS).job], logger).stop()
  })

  it('when a job has intervalMs 0, then it never runs while the other jobs do', async () => {
    // Arrange
    const disabled = manualJob('relay', 0)
    const enabled = manualJob('sweeper', 100)
    const jobs = startPeriodicJobs([disabled.job, enabled.job], recordingLogger().logger)

    // Act
    await vi.advanceTimersByTimeAsync(1_000)

    // Assert
    expect(disabled.passes).toHaveLength(0)
    expect(enabled.passes.length).toBeGreaterThan(0)
    for (const pass of enabled.passes) pass.resolve()
    await jobs.stop()
  })

  it('when one job is slow, then another job keeps its own schedule', async () => {
    const slow = manualJob('sweeper', 100)
    const fast = manualJob('relay', 100)
    const jobs = startPeriodicJobs([slow.job, fast.job], recordingLogger().logger)

    await vi.advanceTimersByTimeAsync(100)
    itemAt(fast.passes, 0, 'pass').resolve()
    await vi.advanceTimersByTimeAsync(100)

    expect(slow.passes).toHaveLength(1)
    expect(fast.passes).toHaveLength(2)
    for (const pass of slow.passes) pass.resolve()
    for (const pass of fast.passes) pass.resolve()
    await jobs.stop()
  })

  it('when a pass fails, then the failure is logged as a warning and the next pass still runs', async () => {
    // Arrange
    const { job, passes } = manualJob('sweeper', 100)
    const { logger, lines } = recordingLogger()
    const jobs = startPeriodicJobs([job], logger)
    await vi.advanceTimersByTimeAsync(100)

    // Act
    itemAt(passes, 0, 'pass').reject(new Error('cassandra unavailable'))
    await vi.advanceTimersByTimeAsync(100)

    // Assert
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 'warn', fields: { job: 'sweeper' } })
    expect(passes).toHaveLength(2)
    itemAt(passes, 1, 'pass').resolve()
    await jobs.stop()
  })

  it('when a pass fails because a dependency is down, then the line names the dependency and its error’s kind, with no stack (every pass meets it during an outage); another failure is logged whole', async () => {
    const { job, passes } = manualJob('event-relay', 100)
    const { logger, lines } = recordingLogger()
    const jobs = startPeriodicJobs([job], logger)
    await vi.advanceTimersByTimeAsync(100)

    const driverError = new Error('All host(s) tried for query failed')
    driverError.name = 'NoHostAvailableError'
    itemAt(passes, 0, 'pass').reject(new DependencyUnavailableError('cassandra', { cause: driverError }))
    await vi.advanceTimersByTimeAsync(100)
    const bug = new TypeError('x is undefined')
    itemAt(passes, 1, 'pass').reject(bug)
    await vi.advanceTimersByTimeAsync(100)

    expect(lines.map((line) => line.fields)).toEqual([
      { job: 'event-relay', dependency: 'cassandra', cause: 'NoHostAvailableError' },
      { job: 'event-relay', err: bug },
    ])
    itemAt(passes, 2, 'pass').resolve()
    await jobs.stop()
  })

  it('when a pass succeeds, then its result is logged at debug level', async () => {
    const job: PeriodicJob = { name: 'sweeper', intervalMs: 100, run: async () => ({ resumed: 2 }) }
    const { logger, lines } = recordingLogger()
    const jobs = startPeriodicJobs([job], logger)

    await vi.advanceTimersByTimeAsync(100)
    await jobs.stop()

    expect(lines).toEqual([{ level: 'debug', fields: { job: 'sweeper', result: { resumed: 2 } } }])
  })
})

describe('startPeriodicJobs: stopping a pass in flight', () => {
  it('when stop() is called during a pass, then the pass is told at once (its signal aborted), so it can end after the item in hand', async () => {
    // Arrange
    const signals: AbortSignal[] = []
    const pass = deferred()
    const job: PeriodicJob = {
      name: 'sweeper',
      intervalMs: 100,
      run: (stopping) => {
        signals.push(stopping)
        return pass.promise
      },
    }
    const jobs = startPeriodicJobs([job], recordingLogger().logger)
    await vi.advanceTimersByTimeAsync(100)
    expect(itemAt(signals, 0, 'signal').aborted).toBe(false)

    // Act
    const stopped = jobs.stop()

    // Assert
    expect(itemAt(signals, 0, 'signal').aborted).toBe(true)
    pass.resolve()
    await stopped
    await vi.advanceTimersByTimeAsync(1_000)
    expect(signals).toHaveLength(1)
  })
})

describe('startPeriodicJobs: held until ready', () => {
  it('when ready answers false, then no pass runs; once it answers true, the passes start', async () => {
    // Arrange
    const { job, passes } = manualJob('sweeper', 100)
    let migrated = false
    const jobs = startPeriodicJobs([job], recordingLogger().logger, async () => migrated)

    // Act + Assert
    await vi.advanceTimersByTimeAsync(500)
    expect(passes).toHaveLength(0)
    migrated = true
    await vi.advanceTimersByTimeAsync(100)
    expect(passes).toHaveLength(1)
    itemAt(passes, 0, 'pass').resolve()
    await jobs.stop()
  })

  it('when ready rejects, then the tick is logged as a failed pass and the next tick asks again', async () => {
    // Arrange
    const { job, passes } = manualJob('relay', 100)
    const { logger, lines } = recordingLogger()
    const answers = [Promise.reject(new Error('cassandra unavailable')), Promise.resolve(true)]
    answers[0]?.catch(() => {})
    const jobs = startPeriodicJobs([job], logger, () => answers.shift() ?? Promise.resolve(true))

    // Act
    await vi.advanceTimersByTimeAsync(200)

    // Assert
    expect(lines[0]).toMatchObject({ level: 'warn', fields: { job: 'relay' } })
    expect(passes).toHaveLength(1)
    itemAt(passes, 0, 'pass').resolve()
    await jobs.stop()
  })

  it('when stop() is called while ready is being asked, then the pass does not start', async () => {
    const { job, passes } = manualJob('sweeper', 100)
    const answer = deferred<boolean>()
    const jobs = startPeriodicJobs([job], recordingLogger().logger, () => answer.promise)
    await vi.advanceTimersByTimeAsync(100)

    const stopped = jobs.stop()
    answer.resolve(true)
    await stopped

    expect(passes).toHaveLength(0)
  })
})
