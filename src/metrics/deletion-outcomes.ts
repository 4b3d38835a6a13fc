import { DependencyUnavailableError, NotPermittedError, RoleRestrictedError, UserAlreadyDeletedError, UserNotFoundError } from '../deletion/errors.js'
import type { DeletionOutcome, ServiceMetrics } from './service-metrics.js'

/** The outcome label of a failed deletion, from the workflow's domain error. */
export function deletionOutcomeOf(err: unknown): DeletionOutcome {
  if (err instanceof UserAlreadyDeletedError) return 'already_deleted'
  if (err instanceof UserNotFoundError) return 'not_found'
  if (err instanceof NotPermittedError) return 'forbidden'
  if (err instanceof RoleRestrictedError) return 'role_restricted'
  if (err instanceof DependencyUnavailableError) return 'unavailable'
  return 'error'
}

/** Wraps the workflow's entry point so that every attempt is counted by outcome; results and errors pass through. */
export function countDeletionOutcomes<I, R>(metrics: Pick<ServiceMetrics, 'countDeletion'>, run: (input: I) => Promise<R>): (input: I) => Promise<R> {
  return async (input) => {
    try {
      const result = await run(input)
      metrics.countDeletion('success')
      return result
    } catch (err) {
      metrics.countDeletion(deletionOutcomeOf(err))
      throw err
    }
  }
}
