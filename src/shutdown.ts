import type { Logger } from './logging/logger.js'
import { withinMs } from './shared/within-ms.js'

export interface ShutdownDeps {
  logger: Pick<Logger, 'info' | 'error'>
  /** The sweeper's and the relay's timers (startPeriodicJobs): stop() cancels them and resolves once their passes in flight have ended. */
  jobs: { stop(): Promise<void> }
  /** The batch runner: stop() starts no further user and resolves once the deletions in flight are recorded and the slices given back. */
  batches: { stop(): Promise<void> }
  /**
   * The deletion request creates whose answer was lost, settled in the background after their caller
   * was answered 200, and the open entries whose write failed, what they kept being withdrawn after
   * their caller was answered 503 (CassandraDeletionRequests): finish() makes each try again at once
   * and resolves once all have ended; unsettled() and unwithdrawn() name those still going (request ids).
   */
  settles: { finish(): Promise<void>; unsettled(): string[]; unwithdrawn(): string[] }
  /** The HTTP drain (gracefulClose): true once every connection has finished within `graceMs`, false when some had to be cut. */
  closeServer(graceMs: number): Promise<boolean>
  /** Closes the Kafka producer, the audit chain (anchoring its head), the Cassandra pool and the search and Redis clients. */
  closeService(): Promise<void>
  exit(code: number): void
  /** From the signal, how long requests in flight and background work in flight may take to finish. */
  drainMs: number
  /** After that, how long closing may take before the process exits anyway. */
  closeMs: number
}

/** Whether `work` settles within `ms` (false when the time ran out first; the work is not stopped). */
const settlesWithin = (work: Promise<unknown>, ms: number): Promise<boolean> =>
  withinMs(
    ms,
    work.then(
      () => true,
      () => true,
    ),
    false,
  )

/**
 * What SIGTERM (or SIGINT) does; the first signal counts, later ones are ignored.
 *
 * 1. The background work is stopped at once, before the HTTP drain: the sweeper's and relay's
 *    timers and the batch runner's scheduling, so no pass starts while requests drain, and the
 *    passes in flight are told to stop (a sweeper pass ends after the request in hand, once
 *    resumeOpenDeletions honours its signal).
 * 2. The HTTP server stops accepting and lets requests in flight answer, within `drainMs`.
 * 3. The background passes in flight are awaited, within the same `drainMs` from the signal, so
 *    the stores are closed under no request's run: its lease given back, its steps recorded. So,
 *    once the requests have answered, are the background settles of creates whose answer was lost
 *    (their callers were answered 200), those begun during the drain included: each tries again at
 *    once. One still going at the deadline is named in an error line, by request id.
 * 4. The service is closed: Kafka producer, audit chain anchored, Cassandra, search and Redis.
 * 5. Exit 0; 1 when connections were cut or background work was left unfinished (what it held is
 *    taken over by another instance once its lease runs out; a create not settled may never have
 *    been). `drainMs + closeMs` after the signal the process exits 1 whatever is still running.
 */
export function shutdownOnSignal(deps: ShutdownDeps): (signal: string) => void {
  const { logger } = deps
  let stopping = false
  return (signal) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    const force = setTimeout(() => {
      logger.error('in-flight requests did not finish in time; exiting')
      deps.exit(1)
    }, deps.drainMs + deps.closeMs)
    force.unref()
    // Both stop their timers before they return: no pass starts from here on.
    const background = Promise.all([
      deps.jobs.stop().catch((err: unknown) => logger.error({ err }, 'stopping background passes failed')),
      deps.batches.stop().catch((err: unknown) => logger.error({ err }, 'stopping batch work failed')),
    ])
    const backgroundFinished = settlesWithin(background, deps.drainMs)
    const drained = deps.closeServer(deps.drainMs)
    // After the drain no request begins a settle; the wait is bounded by the same deadline from the signal.
    const settlesFinished = settlesWithin(
      drained.then(() => deps.settles.finish()),
      deps.drainMs,
    )
    void (async () => {
      const finished = await drained
      if (!finished) logger.error('in-flight requests did not finish in time; connections cut')
      const backgroundDone = await backgroundFinished
      if (!backgroundDone) logger.error('background work did not finish in time; the deletion requests it held are resumed by another instance once their lease runs out')
      const settled = await settlesFinished
      if (!settled) {
        const [creates, withdrawals] = [deps.settles.unsettled(), deps.settles.unwithdrawn()]
        if (creates.length > 0 || withdrawals.length === 0)
          logger.error({ requestIds: creates }, 'deletion request creates not settled in time; the sweeper creates those never created from their open entries')
        if (withdrawals.length > 0) logger.error({ requestIds: withdrawals }, 'open entries of deletions answered 503 not withdrawn in time; the sweeper carries out those whose entry landed')
      }
      await deps.closeService().catch((err: unknown) => logger.error({ err }, 'closing Cassandra failed'))
      logger.info('stopped')
      deps.exit(finished && backgroundDone && settled ? 0 : 1)
    })()
  }
}
