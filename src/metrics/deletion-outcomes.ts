import { DeletionError, RequestAlreadyOpenedError } from '../deletion/errors.js'
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
      // A second runner of a batch item meeting the first's request: not an attempt of its own (the first is counted).
      if (!(err instanceof RequestAlreadyOpenedError)) metrics.countDeletion(deletionOutcomeOf(err))
      throw err
    }
  }
}
