import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { capturedLogger } from '../test/support/captured-logger.js'
import { deferred } from '../test/support/wait-until.js'
import { startPeriodicJobs } from './background-jobs.js'
import { type ShutdownDeps, shutdownOnSignal } from './shutdown.js'

const SWEEP_EVERY_MS = 100
const DRAIN_MS = 10_000
const CLOSE_MS = 4_000

/**
 * The process around shutdownOnSignal: the real periodic jobs with a sweeper whose passes the test
 * ends, a batch runner and an HTTP drain that resolve when told, and what happened, in order.
 */
function processUnderTest(options: { drainTakesMs?: number; duringDrain?: (startSettle: (requestId: string) => ReturnType<typeof deferred<void>>) => void } = {}) {
  const events: string[] = []
  const passes: ReturnType<typeof deferred<void>>[] = []
  const signals: AbortSignal[] = []
  const jobs = startPeriodicJobs(
    [
      {
        name: 'deletion-sweeper',
        intervalMs: SWEEP_EVERY_MS,
        run: (stopping) => {
          events.push('sweeper pass started')
          signals.push(stopping)
          const pass = deferred()
          passes.push(pass)
          return pass.promise.then(() => events.push('sweeper pass ended'))
        },
      },
    ],
    capturedLogger().logger,
  )
  const batchesStopped = deferred()
  /** Background settles of creates whose answer was lost (and withdrawals of entries whose write failed), by request id; a case starts and ends them. */
  const settling = new Map<string, ReturnType<typeof deferred<void>>>()
  const withdrawals = new Set<string>()
  const startSettle = (requestId: string, kind: 'create' | 'withdrawal' = 'create') => {
    const settle = deferred()
    settling.set(requestId, settle)
    if (kind === 'withdrawal') withdrawals.add(requestId)
    void settle.promise.then(() => {
      settling.delete(requestId)
      events.push(`settle ${requestId} ended`)
    })
    return settle
  }
  const closing = deferred()
  const exits: number[] = []
  const { logger, lines } = capturedLogger()
  const deps: ShutdownDeps = {
    logger,
    jobs: {
      stop: () => {
        events.push('timers stopped')
        return jobs.stop()
      },
    },
    batches: {
      stop: () => {
        events.push('batches stopped')
        return batchesStopped.promise
      },
    },
    settles: {
      finish: async () => {
        events.push('settles finishing')
        while (settling.size > 0) await Promise.all([...settling.values()].map((settle) => settle.promise))
        // Let the settles' own bookkeeping run first, as it does in the store.
        await Promise.resolve()
      },
      unsettled: () => [...settling.keys()].filter((id) => !withdrawals.has(id)),
      unwithdrawn: () => [...settling.keys()].filter((id) => withdrawals.has(id)),
    },
    closeServer: async (graceMs) => {
      events.push('drain started')
      const took = Math.min(options.drainTakesMs ?? 0, graceMs)
      await new Promise((resolve) => setTimeout(resolve, took))
      options.duringDrain?.(startSettle)
      events.push('drain ended')
      return took < graceMs
    },
    closeService: () => {
      events.push('service closing')
      return closing.promise
    },
    exit: (code) => {
      exits.push(code)
    },
    drainMs: DRAIN_MS,
    closeMs: CLOSE_MS,
  }
  return { shutdown: shutdownOnSignal(deps), events, passes, signals, batchesStopped, startSettle, closing, exits, lines }
}

const started = (events: string[]) => events.filter((event) => event === 'sweeper pass started').length

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('shutdownOnSignal', () => {
  it('when SIGTERM arrives, then the sweeper, relay and batch runner are stopped at once, before the HTTP drain, and no pass starts while requests drain', async () => {
    // Arrange: the HTTP drain takes 5 s, fifty sweep intervals.
    const p = processUnderTest({ drainTakesMs: 5_000 })
    p.batchesStopped.resolve()
    p.closing.resolve()

    // Act
    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(5_000)

    // Assert
    expect(p.events.slice(0, 3)).toEqual(['timers stopped', 'batches stopped', 'drain started'])
    expect(started(p.events)).toBe(0)
    expect(p.exits).toEqual([0])
  })

  it('when a sweeper pass is in flight at the signal, then it is told to stop, and the service closes only after it has ended', async () => {
    // Arrange
    const p = processUnderTest()
    await vi.advanceTimersByTimeAsync(SWEEP_EVERY_MS)
    expect(started(p.events)).toBe(1)
    p.batchesStopped.resolve()
    p.closing.resolve()

    // Act
    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(2_000)

    // Assert: the drain is over, the pass is not: nothing is closed under it.
    expect(p.signals[0]?.aborted).toBe(true)
    expect(p.events).toContain('drain ended')
    expect(p.events).not.toContain('service closing')
    p.passes[0]?.resolve()
    await vi.advanceTimersByTimeAsync(0)
    expect(p.events.slice(-2)).toEqual(['sweeper pass ended', 'service closing'])
    expect(p.exits).toEqual([0])
    expect(started(p.events)).toBe(1)
  })

  it('when the batch runner is still recording the deletions in flight, then the service closes only after it has given its slices back', async () => {
    const p = processUnderTest()
    p.closing.resolve()

    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(p.events).not.toContain('service closing')
    p.batchesStopped.resolve()
    await vi.advanceTimersByTimeAsync(0)

    expect(p.events.at(-1)).toBe('service closing')
    expect(p.exits).toEqual([0])
  })

  it('when a pass outlasts the drain deadline, then the service is closed at the deadline all the same, an error line says so, and the exit code is 1', async () => {
    // Arrange
    const p = processUnderTest()
    await vi.advanceTimersByTimeAsync(SWEEP_EVERY_MS)
    p.batchesStopped.resolve()
    p.closing.resolve()

    // Act
    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(DRAIN_MS - 1)
    expect(p.events).not.toContain('service closing')
    await vi.advanceTimersByTimeAsync(1)

    // Assert
    expect(p.events.at(-1)).toBe('service closing')
    expect(p.exits).toEqual([1])
    expect(p.lines.map((line) => line.msg)).toContain('background work did not finish in time; the deletion requests it held are resumed by another instance once their lease runs out')
    p.passes[0]?.resolve()
  })

  it('when a create answered 200 is still settling in the background, then it is told to try at once after the drain, and the service closes only after it has ended', async () => {
    const p = processUnderTest()
    const settle = p.startSettle('req-unknown')
    p.batchesStopped.resolve()
    p.closing.resolve()

    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(2_000)
    expect(p.events).toContain('settles finishing')
    expect(p.events.indexOf('settles finishing')).toBeGreaterThan(p.events.indexOf('drain ended'))
    expect(p.events).not.toContain('service closing')
    settle.resolve()
    await vi.advanceTimersByTimeAsync(0)

    expect(p.events.slice(-2)).toEqual(['settle req-unknown ended', 'service closing'])
    expect(p.exits).toEqual([0])
  })

  it('when a settle begins during the drain (a request in flight lost its create’s answer), then it is waited for too', async () => {
    let late: ReturnType<typeof deferred<void>> | undefined
    const p = processUnderTest({
      drainTakesMs: 1_000,
      duringDrain: (startSettle) => {
        late = startSettle('req-late')
      },
    })
    p.batchesStopped.resolve()
    p.closing.resolve()

    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(3_000)
    expect(p.events).not.toContain('service closing')
    late?.resolve()
    await vi.advanceTimersByTimeAsync(0)

    expect(p.events.slice(-2)).toEqual(['settle req-late ended', 'service closing'])
    expect(p.exits).toEqual([0])
  })

  it('when a settle outlasts the drain deadline, then the service is closed at that deadline all the same, one error line names its request id only, and the exit code is 1', async () => {
    const p = processUnderTest()
    p.startSettle('req-stuck')
    p.batchesStopped.resolve()
    p.closing.resolve()

    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(DRAIN_MS - 1)
    expect(p.events).not.toContain('service closing')
    await vi.advanceTimersByTimeAsync(1)

    expect(p.events.at(-1)).toBe('service closing')
    expect(p.exits).toEqual([1])
    const errors = p.lines.filter((line) => line.level === 50)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ requestIds: ['req-stuck'], msg: 'deletion request creates not settled in time; the sweeper creates those never created from their open entries' })
  })

  it('when a withdrawal of an entry whose caller was answered 503 outlasts the drain deadline, then its own error line names it, and no line about creates is written', async () => {
    const p = processUnderTest()
    p.startSettle('req-retry', 'withdrawal')
    p.batchesStopped.resolve()
    p.closing.resolve()

    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(DRAIN_MS)

    expect(p.exits).toEqual([1])
    const errors = p.lines.filter((line) => line.level === 50)
    expect(errors).toEqual([
      expect.objectContaining({ requestIds: ['req-retry'], msg: 'open entries of deletions answered 503 not withdrawn in time; the sweeper carries out those whose entry landed' }),
    ])
  })

  it('when closing the service hangs, then the process exits 1 once the close deadline has passed', async () => {
    const p = processUnderTest()
    p.batchesStopped.resolve()

    p.shutdown('SIGTERM')
    await vi.advanceTimersByTimeAsync(DRAIN_MS + CLOSE_MS)

    expect(p.exits).toEqual([1])
    expect(p.lines.map((line) => line.msg)).toContain('in-flight requests did not finish in time; exiting')
  })

  it('when a second signal arrives, then it changes nothing: one shutdown, one exit', async () => {
    const p = processUnderTest()
    p.batchesStopped.resolve()
    p.closing.resolve()

    p.shutdown('SIGTERM')
    p.shutdown('SIGINT')
    await vi.advanceTimersByTimeAsync(0)

    expect(p.events.filter((event) => event === 'timers stopped')).toHaveLength(1)
    expect(p.exits).toEqual([0])
    expect(p.lines.filter((line) => line.msg === 'shutting down')).toHaveLength(1)
  })
})
