import type { DeletionRequest } from '../deletion-request.js'
import type { DeletionListener, DeletionRequestStore } from '../ports.js'
import { type DeletionStep, stepOutcome } from './step.js'

/**
 * The lock: one lightweight transaction sets status 2 + isdeleted (UserStore.markDeleted). It has no
 * `run`: deleteUser and resumeDeletion take it themselves, because it decides which of concurrent
 * requests owns the deletion; both record it through recordLock().
 */
export const lock = {
  name: 'lock',
  store: 'cassandra.user (status)',
  why: 'status 2 and isdeleted set in one lightweight transaction: the user is deleted for every reader and locked out',
  plans: ['sunbird'],
} as const satisfies DeletionStep

/** Once the lock is ours: lock the user out here at once, then record the step (and let crash tests stop right after). */
export async function recordLock(
  deps: { listener: DeletionListener; requests: Pick<DeletionRequestStore, 'recordStep'>; afterStep?(step: string): void },
  request: DeletionRequest,
  at: Date,
): Promise<void> {
  deps.listener.userDeleted(request.userId)
  request.steps.lock = stepOutcome('done', 'locked', at)
  await deps.requests.recordStep(request.id, 'lock', request.steps.lock, 'in_progress')
  deps.afterStep?.('lock')
}
