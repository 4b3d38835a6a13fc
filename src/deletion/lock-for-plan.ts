import { lockedOutBy, type TokenHolders } from './caller-lock-out.js'
import { finishCancelOf } from './cancel-deletion.js'
import { type DeletionRequest, isFinished, isSupersedable } from './deletion-request.js'
import { type DeletionError, DependencyUnavailableError, keptChanging, UserNotFoundError } from './errors.js'
import { isDeleted } from './is-deleted.js'
import { checkpointSteps, giveBack, LeaseLostError, leaseUntil } from './lease.js'
import type { UserDeletionState, UserRecord } from './ports.js'
import { intentOf, refusalFor } from './repeat-rules.js'
import type { RunDeps } from './run-deletion.js'
import { failRequest } from './settle-request.js'
import { recordLock } from './steps/lock.js'
import { stepOutcome } from './steps/step.js'
import { readCondition } from './user-condition.js'

// A state changing under us twice in a row is already unusual; a third time is a fight we should not win by looping.
const MAX_ATTEMPTS = 4

export type LockResult = { kind: 'locked' } | { kind: 'refused'; error: DeletionError }

/**
 * Ends the earlier soft deletion a hard one took the hold from, `superseded`, if it still has
 * something to do. Only the holder of its lease ends it, so it ends once: with the lease free it
 * is taken here and ended under it; a run or the sweeper holding it ends it itself (lockForPlan's
 * refusal, or beginErasure finding the hold gone), and a cancel holding it ends it once its swap of
 * the hold is refused (cancelOnce, endTakenOver). Any error is reported (onStepError) and let
 * pass: the hard deletion already holds the user, and the sweeper ends it.
 */
async function supersede(deps: RunDeps, requestId: string): Promise<void> {
  let until: Date | undefined
  let earlier: DeletionRequest | undefined
  let read = false
  try {
    const seen = await deps.requests.get(requestId)
    // A completed soft deletion keeps its hold: most hard deletions over a soft one end here, with one read.
    if (!seen || !isSupersedable(seen.state)) return
    const now = deps.clock.now()
    const leased = leaseUntil(deps, now)
    if (!(await deps.requests.acquireLease(requestId, now, leased))) return
    until = leased
    earlier = await deps.requests.get(requestId)
    read = true
    if (!earlier) return
    earlier.heldUntil = until
    if (isSupersedable(earlier.state)) {
      await failRequest(deps, earlier, 'superseded', deps.clock.now())
    } else if (isFinished(earlier.state)) {
      // Ended meanwhile by a run that died before it closed it (still listed): the lease is left to
      // run out (a lease given back says the request is closed), and the sweeper stores its record then.
      earlier.closeOwed = true
      if (!(await deps.requests.isListed(requestId))) delete earlier.closeOwed
    }
  } catch (err) {
    if (err instanceof LeaseLostError) return void deps.onLeaseLost?.(requestId)
    deps.onStepError?.('lock', err, requestId)
  } finally {
    // Only a lease taken here is given back (unless its end is owed a record: see giveBack); a request that vanished, by that lease; one unread, not at all.
    if (until && read) await (earlier ? giveBack(deps, earlier) : deps.requests.releaseLease(requestId, until)).catch(() => undefined)
  }
}

/**
 * The lock of a soft or hard deletion, in two compare-and-sets so that of concurrent requests in
 * any mix of modes exactly one wins each change of state:
 * 1. the user's deletion state (UserDeletionStates) moves to this request's hold: from none (an
 *    active user, or one Sunbird's deletion erased), or from a soft hold (hard over soft);
 * 2. the user row gets status 2 + isdeleted (UserStore.markDeleted), as Sunbird's deletion does,
 *    which is what a request without a mode competes on. Losing it to such a request gives the
 *    hold back, and the rules are read again (a hard deletion then goes on over Sunbird's, unless
 *    that deletion locked out the person whose token asked for this one).
 * Before each attempt, what the user has become is judged: first as the lock-out would judge the
 * request's token holders had it landed before the call (lockedOutBy: a person whose own deletion
 * locked first is refused, 401), then by the repeat rules. A request already holding the state (a
 * crashed runner's) goes straight to the row.
 */
export async function lockForPlan(deps: RunDeps, request: DeletionRequest, holders: TokenHolders): Promise<LockResult> {
  const hold: UserDeletionState = { mode: request.plan === 'soft' ? 'soft' : 'hard', requestId: request.id }
  const intent = intentOf(request)
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const condition = await readCondition(deps, request.userId)
    const held = condition.kind === 'missing' || condition.kind === 'active' ? undefined : condition.held
    const ours = held?.requestId === request.id && held.mode === hold.mode
    if (!ours) {
      // Judged against the lock read, not the lock-out before the call: that may have run before this lock landed.
      const refusal = lockedOutBy(holders, request.userId, condition) ?? refusalFor(intent, condition)
      if (refusal) return refuse(deps, request, refusal, condition.kind === 'missing' ? 'not-found' : 'superseded')
      if (held?.mode === 'restoring') {
        // A cancel is putting the user back: let it finish first, then read the rules again.
        await finishCancelOf(deps, held.requestId)
        continue
      }
      if (!(await deps.states.swap(request.userId, held, hold))) continue
      if (held?.mode === 'soft') await supersede(deps, held.requestId)
    }
    const user = condition.kind === 'missing' ? undefined : condition.user
    if (!user) {
      await deps.states.swap(request.userId, hold, undefined)
      return refuse(deps, request, new UserNotFoundError(), 'not-found')
    }
    if (isDeleted(user)) {
      await recordLock(deps, request, deps.clock.now(), request.steps.lock?.restore)
      return { kind: 'locked' }
    }
    const locked = await lockRow(deps, request, user)
    if (locked === 'locked') return { kind: 'locked' }
    // The row was deleted by a request without a mode (or is gone): give the hold back and read the rules again.
    await deps.states.swap(request.userId, hold, undefined)
  }
  throw keptChanging('the deletion state of the user kept changing')
}

/**
 * The row's compare-and-set, retried while someone else changes other flags (e.g. blocks the user).
 * Restore facts are recorded first, so a crash keeps them: the row's status and flag before the
 * lock, and the lock's own time (`lockedAt`, the row's `updateddate` once it applies), which a
 * cancel's restore is conditioned on so that it never writes over a row erased since.
 */
async function lockRow(deps: RunDeps, request: DeletionRequest, read: UserRecord): Promise<'locked' | 'lost'> {
  let user = read
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const at = deps.clock.now()
    const restore = { status: user.status, isDeleted: user.isDeleted, lockedAt: at.toISOString() }
    request.steps.lock = stepOutcome('pending', 'locking', at, undefined, { plan: request.plan, restore })
    await checkpointSteps(deps, request, { lock: request.steps.lock }, request.state === 'accepted' ? 'accepted' : 'in_progress')
    const outcome = await deps.users.markDeleted(user, { requestedBy: request.requestedBy, at })
    if (outcome.kind === 'deleted') {
      await recordLock(deps, request, deps.clock.now(), restore)
      return 'locked'
    }
    // Maybe locked: the sweeper takes the request up again and reads the row anew.
    if (outcome.kind === 'unknown') throw new DependencyUnavailableError('cassandra')
    if (outcome.kind === 'already-deleted' || !outcome.current || isDeleted(outcome.current)) return 'lost'
    user = outcome.current
  }
  throw keptChanging('the user row kept changing during the lock')
}

/** The refusal stands even if the request cannot be ended now, or another runner took it over: that runner (or the sweeper) reads the same and ends it. */
async function refuse(deps: RunDeps, request: DeletionRequest, error: DeletionError, reason: 'not-found' | 'superseded'): Promise<LockResult> {
  await failRequest(deps, request, reason, deps.clock.now()).catch((err: unknown) => {
    if (!(err instanceof DependencyUnavailableError || err instanceof LeaseLostError)) throw err
  })
  return { kind: 'refused', error }
}
