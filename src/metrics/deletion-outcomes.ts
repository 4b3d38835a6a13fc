import { DeletionError, DeletionWithdrawnError, RequestAlreadyOpenedError } from '../deletion/errors.js'
import { FencePassedError } from '../deletion/lease.js'
import type { DeletionOutcome, ServiceMetrics } from './service-metrics.js'

/** The outcome label of a failed deletion: the domain error's own kind, or 'error' for anything else. */
export function deletionOutcomeOf(err: unknown): DeletionOutcome {
  return err instanceof DeletionError ? err.kind : 'error'
}

/** Wraps the workflow's entry point so that every attempt is counted by outcome; results and errors pass through. */
export function countDeletionOutcomes<I, R>(metrics: Pick<ServiceMetrics, 'countDeletion'>, run: (input: I) => Promise<R>): (input: I) => Promise<R> {
  return async (input) => {
    try {
      const result = await run(input)
      metrics.countDeletion('success')
      return result
    } catch (err) {
      // A second runner of a batch item meeting the first's request, or a batch item whose create was
      // not known in place while the slice lease held: not an attempt of its own. (The request either
      // is finished by the slice's next holder or the sweeper, which count no attempt, or never was.)
      // Nor a batch item withdrawn before its create (its job cancelled): nothing was begun.
      if (!(err instanceof RequestAlreadyOpenedError || err instanceof FencePassedError || err instanceof DeletionWithdrawnError)) metrics.countDeletion(deletionOutcomeOf(err))
      throw err
    }
  }
}
