import type { DeletionRequest, RestoreFacts } from '../deletion-request.js'
import { isDeleted } from '../is-deleted.js'
import { checkpointSteps } from '../lease.js'
import type { Clock, DeletionListener, DeletionRequestStore } from '../ports.js'
import { type DeletionStep, stepOutcome } from './step.js'

const STORE = 'cassandra.user (status)'

/** The action of a lock restore refused because the row no longer stands as the lock left it (gone, erased, or written by a deletion since). */
export const ROW_CHANGED_SINCE_LOCK = 'changed-since-lock'

/**
 * The lock: one lightweight transaction sets status 2 + isdeleted (UserStore.markDeleted). It has no
 * `run`: the workflow takes it itself, because it decides which of concurrent requests owns the
 * deletion; it is recorded through recordLock(). Its restore puts status and isdeleted back, only
 * over the row as the lock left it (UserStore.restoreStatus): a row gone or erased since (another
 * deletion's tombstone or scrub) is left alone and the outcome says ROW_CHANGED_SINCE_LOCK, with
 * the restore facts kept (the cancel then ends superseded: see finishCancel). A row another writer
 * only stamped since: see UserStore.restoreStatus.
 */
export const lock = {
  name: 'lock',
  store: STORE,
  why: 'status 2 and isdeleted set in one lightweight transaction: the user is deleted for every reader and locked out',
  plans: ['sunbird', 'soft', 'hard'],
  async preview({ user }) {
    return [{ store: STORE, action: isDeleted(user) ? 'already-locked' : 'lock', count: 1 }]
  },
  async restore({ deps, request, outcome, cancelledBy, stillHolds }) {
    const prior = outcome.restore ?? {}
    const status = typeof prior.status === 'number' ? prior.status : 1
    const wasDeleted = typeof prior.isDeleted === 'boolean' ? prior.isDeleted : false
    // The lock's mark on the row: its requester, and its time when it was kept (locks recorded before it was are matched without).
    const lockedAt = typeof prior.lockedAt === 'string' ? new Date(prior.lockedAt) : undefined
    const lockMark = { requestedBy: request.requestedBy, ...(lockedAt && !Number.isNaN(lockedAt.getTime()) && { at: lockedAt }) }
    const restored = await deps.users.restoreStatus(request.userId, { status, isDeleted: wasDeleted }, lockMark, { requestedBy: cancelledBy, at: deps.clock.now() }, stillHolds)
    if (restored === 'changed') return stepOutcome('skipped', ROW_CHANGED_SINCE_LOCK, deps.clock.now(), undefined, { plan: 'soft', restore: prior })
    return stepOutcome('done', 'restored', deps.clock.now(), undefined, { plan: 'soft' })
  },
} as const satisfies DeletionStep

/**
 * Once the lock is ours: lock the user out here at once, then record the step (and let crash tests
 * stop right after). `restore` keeps what the row said before, for a cancel to put back.
 */
export async function recordLock(
  deps: { listener: DeletionListener; requests: Pick<DeletionRequestStore, 'recordSteps' | 'confirmLease'>; clock: Clock; leaseMs: number; afterStep?(step: string): void },
  request: DeletionRequest,
  at: Date,
  restore?: RestoreFacts,
): Promise<void> {
  deps.listener.userDeleted(request.userId, request.plan === 'soft')
  request.steps.lock = stepOutcome('done', 'locked', at, undefined, { plan: request.plan, ...(restore && { restore }) })
  await checkpointSteps(deps, request, { lock: request.steps.lock }, 'in_progress')
  deps.afterStep?.('lock')
}
