import type { Caller } from './caller.js'
import { answerByDeadline, type CommitGate } from './commit-gate.js'
import { authorizedCondition, type DeleteUserDeps } from './delete-user.js'
import { type DeletionRequest, isFinished, isSupersedable, type StepName, type StepOutcome } from './deletion-request.js'
import { DependencyUnavailableError, keptChanging, UserErasedError, UserNotDeletedError, UserNotFoundError, WordedCause } from './errors.js'
import { isDeleted } from './is-deleted.js'
import { checkpointSteps, closedReadStillFresh, closeFinished, finishUnderLease, giveBack, holdLeaseAhead, LeaseLostError, leaseUntil, reclaimLease } from './lease.js'
import type { UserDeletionState } from './ports.js'
import { intentOf } from './repeat-rules.js'
import type { RunDeps } from './run-deletion.js'
import { auditRecord, failRequest, owedEndRecord } from './settle-request.js'
import { stepsOf } from './steps/index.js'
import { ROW_CHANGED_SINCE_LOCK } from './steps/lock.js'
import { type DeletionStep, LEFT_AS_IT_WAS, stepOutcome } from './steps/step.js'
import { readCondition } from './user-condition.js'

export interface CancelDeletionInput {
  userId: string
  caller: Caller
  /**
   * When the caller stops waiting (its request deadline). Past it the answer is "retry" if the
   * restore has not begun (nothing was written), else the cancel's success while it goes on (see
   * cancelDeletion).
   */
  answerBy?: Date
  /** Told when the cancel passes its point of no return (the HTTP deadline then never answers "retry"). */
  onCommit?: () => void
}

// A state changing under us twice in a row is already unusual; a third time is a fight we should not win by looping.
const MAX_ATTEMPTS = 3

/** What a cancel's run under the lease answers when another deletion took the user first (see answerAfterSupersession). */
const SUPERSEDED = Symbol('superseded')

/** How a cancel's run ended: the user back and the request `cancelled`, or the user taken by another deletion first and the request ended superseded. */
export type CancelEnd = 'cancelled' | 'superseded'

/** The hold is still this cancel's own `restoring` one. */
const holdsRestoring = (held: UserDeletionState | undefined, request: DeletionRequest): held is UserDeletionState => held?.mode === 'restoring' && held.requestId === request.id

/** How many of the user's requests (newest first) are looked at for a deletion without a mode, as a request resumed before its lock does. */
const OTHER_REQUESTS_READ = 20

/**
 * Whether a request without a mode (which takes no hold) may have locked the user's row since the
 * soft deletion began: it is not failed, and it was created after the soft deletion, or is still
 * open, or was written since. An older one still open may be resumed by the sweeper (it crashed
 * after its acceptance, before its lock) and then locks whatever active row it finds, one an
 * earlier restore of this cancel had put back included, without looking at any hold. Only one
 * that ended before the soft deletion began (an admin reactivated the user after it) cannot have.
 */
function mayHaveLockedSince(other: DeletionRequest, soft: DeletionRequest): boolean {
  if (other.id === soft.id || intentOf(other) !== 'default' || other.state === 'failed') return false
  const since = soft.createdAt.getTime()
  return other.createdAt.getTime() > since || !isFinished(other.state) || other.updatedAt.getTime() > since
}

/**
 * Whether the cancel still holds the user (the `stillHolds` of UserStore.restoreStatus): its hold
 * is still `restoring`, and no request without a mode on the user may have locked the row since
 * the soft deletion began (mayHaveLockedSince).
 */
async function stillHoldsUser(deps: RunDeps, request: DeletionRequest): Promise<boolean> {
  if (!holdsRestoring(await deps.states.get(request.userId), request)) return false
  const others = await deps.requests.findByUser(request.userId, OTHER_REQUESTS_READ)
  return !others.some((other) => mayHaveLockedSince(other, request))
}

/**
 * Undoes what a soft deletion did, step by step in reverse order, through each step's `restore`
 * (the search document's flags, the Keycloak account enabled again, then the row's status and
 * isdeleted put back), from the facts each step kept. A step that cannot be restored now (Keycloak
 * or the search engine down) stops the undoing there, DependencyUnavailableError naming that
 * dependency: the user stays locked out, the request stays `cancelling`, and the sweeper (or a
 * repeated cancel) finishes it. A step the soft deletion still owed with nothing to undo (a search
 * engine or cache down when it ran) is recorded skipped, `left-as-it-was`: nothing is owed any more. Only when every step is back is the cancel
 * audited, then the hold dropped (the user let in again by every reader of the state) and the
 * request recorded `cancelled`.
 *
 * Another deletion may take the user's hold from `restoring` meanwhile: a manager's deletion
 * erasing this managed user (the managed-users step's hold), which then erases them. The hold is
 * read once before each restore step and once more right before the record: from the moment it is
 * another's, nothing more is restored (neither the Keycloak account nor the row), no
 * `deletion.cancelled` is stored, and the cancel ends superseded (endSuperseded). The row's own
 * restore is conditioned on the soft deletion's lock (UserStore.restoreStatus), so an erasure that
 * took the hold between that read and the write is not undone either: a row gone or rewritten since
 * the lock is left as it is, and the cancel ends superseded the same way. A row another writer only
 * stamped since is put back while the cancel still holds the user: see UserStore.restoreStatus.
 *
 * The `deletion.cancelled` record is stored before the hold is dropped and before the request is
 * `cancelled`: a record that cannot be stored (the audit's writes exhausted) or a run that dies
 * before it leaves the request `cancelling`, open, and its hold `restoring`, and whoever finishes
 * it (the sweeper, the same cancel again, a deletion meeting the hold) stores it then. Nor is it
 * stored before the user is back: no record for a cancel that has not happened. A hold already
 * gone once every step is back means the record was stored (only this function drops a
 * `restoring` hold after the last restore, right after the append; endSuperseded drops one only
 * while the row's restore is still owed): a rerun after a lost final write does not audit it
 * twice (unless a later deletion has taken a hold of its own since: then it may be there twice,
 * recognisable by requestId and event). A hold taken over between the last read and the append
 * (the narrowest window) leaves the record of a cancel that did put the user back, before the
 * deletion that took the hold erases them. `caller`: the caller whose cancel this run is; absent
 * when nobody asked (the sweeper, another request meeting the hold), the record and the restored
 * row name the caller the request recorded (a completed one's before its hold moved, a grace
 * period's when it was reopened; nobody when its run died before that).
 */
export async function finishCancel(deps: RunDeps, request: DeletionRequest, caller?: string): Promise<CancelEnd> {
  const cancelledBy = caller ?? request.cancelledBy
  // Steps the soft deletion still owed with nothing of theirs to undo, written with the next write.
  let notNeeded: Partial<Record<StepName, StepOutcome>> = {}
  for (const step of [...stepsOf('soft')].reverse()) {
    const outcome = request.steps[step.name]
    // Restored steps keep no restore facts: a rerun passes them by.
    if (!step.restore || !outcome?.restore) {
      // Owed when the cancel came with no restore facts (a flag never set, a cache key not deleted):
      // nothing of it to undo, and owed no more now that the user is kept (the sweeper never retries
      // a cancelled request's steps). Skipped, in the words a restore uses when it finds nothing to put back.
      if (outcome?.status === 'pending') {
        const dropped = stepOutcome('skipped', LEFT_AS_IT_WAS, deps.clock.now(), undefined, { plan: 'soft' })
        request.steps[step.name] = dropped
        notNeeded[step.name] = dropped
      }
      continue
    }
    const before = await deps.states.get(request.userId)
    if (!holdsRestoring(before, request)) return endSuperseded(deps, request, before)
    const restored = await step.restore({ deps, request, outcome, cancelledBy: cancelledBy ?? request.requestedBy, stillHolds: () => stillHoldsUser(deps, request) })
    // The row is gone, or another deletion erased it since the lock: left as it is, and nothing recorded as restored.
    if (restored.action === ROW_CHANGED_SINCE_LOCK) return endSuperseded(deps, request, await deps.states.get(request.userId))
    request.steps[step.name] = restored
    await checkpointSteps(deps, request, { ...notNeeded, [step.name]: restored }, 'cancelling')
    notNeeded = {}
    if (restored.status === 'pending') throw stillToRestore(step)
  }
  const restoring = { mode: 'restoring', requestId: request.id } as const
  const held = await deps.states.get(request.userId)
  // Taken over since the last step (a manager's erasure): no record of a cancel the erasure undoes.
  if (held && !holdsRestoring(held, request)) return endSuperseded(deps, request, held)
  // No hold left: this cancel dropped it, after its record was stored (see above).
  if (held) await deps.audit.append(auditRecord(request, 'deletion.cancelled', deps.clock.now(), cancelledBy === undefined ? undefined : { cancelledBy }))
  // Only the run that drops our hold tells the gate the user is back: on a rerun (no hold left) or
  // under another deletion's hold the user may be locked out again, and a `restorable` answer
  // cached here runs out within the gate's short trust anyway.
  if (held && (await deps.states.swap(request.userId, restoring, undefined))) deps.listener.userRestored(request.userId)
  await finishUnderLease(deps, request, 'cancelled', { steps: notNeeded })
  await closeFinished(deps, request)
  return 'cancelled'
}

/**
 * A restore the cancel cannot make now: the dependency that holds the step's store (Keycloak, the
 * search engine) is named, with the store, in the log and the 503's reason; the user stays locked out
 * and the request `cancelling` until a retry (the sweeper, the same cancel again) makes it.
 */
function stillToRestore(step: DeletionStep): DependencyUnavailableError {
  return new DependencyUnavailableError(step.dependency ?? 'cassandra', { cause: new WordedCause(`the cancel still owes the restore of ${step.store}: the user stays locked out until it is made`) })
}

/**
 * The cancel lost the user before it was through: it restores nothing more and ends its request
 * failed, as a grace period's erasure taken over by a hard deletion does (failRequest: failed
 * first, then its `deletion.failed` record; a record that cannot be stored leaves the failed
 * request listed, and the sweeper stores it).
 * - Another deletion holds the user (`held`: a manager's hard deletion, or Sunbird's, erasing this
 *   managed user): `superseded`. When the row reads active (this cancel's restore landed before
 *   that deletion's erasure, or a replica applied the erasure's write under it), it is locked
 *   again at once (status 2 + isdeleted, the lock's compare-and-set), so the user never stands
 *   active under a deletion that erases them; that deletion's own row write follows as it would.
 * - The hold is still this cancel's: the row was refused its restore because it is gone, was
 *   erased since the lock by a writer outside this service (no deletion of this service erases
 *   without taking the hold first), or was locked by a request without a mode (which takes no
 *   hold) while an earlier restore of this cancel had put it back. The hold is dropped, so the
 *   row alone says where the user stands (a deleted row with no hold: Sunbird's deletion, final),
 *   and the request ends `superseded`, or `not-found` when the row is gone.
 * - No hold: an earlier run did the above and could not end the request.
 * The caller (cancelOnce) then answers as a cancel of the user as they now stand is answered.
 */
async function endSuperseded(deps: RunDeps, request: DeletionRequest, held: UserDeletionState | undefined): Promise<'superseded'> {
  const erasing = held?.mode === 'hard' || held?.mode === 'sunbird'
  if (holdsRestoring(held, request)) await deps.states.swap(request.userId, held, undefined)
  const user = await deps.users.findUser(request.userId)
  if (erasing && user && !isDeleted(user)) {
    await deps.users.markDeleted(user, { requestedBy: request.requestedBy, at: deps.clock.now() })
    deps.listener.userDeleted(request.userId)
  }
  await failRequest(deps, request, user ? 'superseded' : 'not-found', deps.clock.now())
  return 'superseded'
}

/**
 * Runs `work` on a request (as read once its lease is held) while holding its lease, so no other
 * runner (the deletion itself, the sweeper retrying a step, another cancel) acts on it meanwhile.
 * When someone else holds it, or takes it over while `work` stalls, 503 is answered: the caller
 * may retry once that runner is through.
 */
async function holdingLease<T>(deps: RunDeps, requestId: string, work: (request: DeletionRequest | undefined, closed: boolean) => Promise<T>): Promise<T> {
  // Read before the lease is taken, which overwrites what says it (see resumeDeletion).
  const readAt = deps.clock.now()
  const closed = await deps.requests.isClosed(requestId)
  const now = deps.clock.now()
  const until = leaseUntil(deps, now)
  if (!(await deps.requests.acquireLease(requestId, now, until))) throw keptChanging('the deletion request is held by another runner (a cancel or the deletion of the same user under way)')
  let request: DeletionRequest | undefined
  let read = false
  try {
    request = await deps.requests.get(requestId)
    read = true
    if (request) request.heldUntil = until
    return await work(request, closed && closedReadStillFresh(deps, readAt))
  } catch (err) {
    if (err instanceof LeaseLostError) {
      deps.onLeaseLost?.(requestId)
      throw keptChanging('the deletion request was taken over by another runner while the cancel worked on it')
    }
    throw err
  } finally {
    // A request that vanished is still given back by the lease taken for it; one that could not be
    // read is not (it may owe its end's record: a lease given back says closed), and its lease runs out.
    if (read) await (request ? giveBack(deps, request) : deps.requests.releaseLease(requestId, until)).catch(() => undefined)
  }
}

/** Finishes the cancel a request is in the middle of (another request met its `restoring` hold). */
export async function finishCancelOf(deps: RunDeps, requestId: string): Promise<void> {
  await holdingLease(deps, requestId, async (request) => {
    if (!request || request.state === 'cancelled') return
    await finishInterruptedCancel(deps, request)
  })
}

/**
 * Finishes, under the lease the caller holds on `request`, a cancel that took the request's hold
 * (`restoring`) and stopped before it was through: records it if its run died before that, then
 * undoes the steps and audits it (`cancelledBy` as the request recorded it), or ends it superseded when
 * another deletion took the user meanwhile. What a deletion meeting the hold does, and the grace
 * period's erasure when it finds its own hold `restoring`.
 */
export async function finishInterruptedCancel(deps: RunDeps, request: DeletionRequest): Promise<CancelEnd> {
  await recordCancel(deps, request)
  return finishCancel(deps, request)
}

/**
 * A completed soft deletion still listed: its run died (or its append failed) before its
 * `deletion.completed` was stored. Stored by the cancel before it changes anything (at worst a
 * second time), since once the request is `cancelling` the record is owed no more. One `closed`
 * (isClosed, read before the lease) was audited: its listing may have come back, and is not read.
 */
export async function storeOwedEnd(deps: Pick<RunDeps, 'requests' | 'audit'>, request: DeletionRequest, closed: boolean): Promise<void> {
  const owed = owedEndRecord(request)
  if (!owed || closed) return
  // Kept until the record is known not owed: a lease given back says the request is closed.
  request.closeOwed = true
  if (await deps.requests.isListed(request.id)) await deps.audit.append(owed)
  delete request.closeOwed
}

/**
 * Lists the request due at once before the cancel moves the user's hold, so the sweeper meets
 * whatever of the cancel lands (the hold's swap alone, its answer lost, a reopen cut short, a caller
 * answered at the end of its decision wait): a grace period now rather than at its end, a completed
 * deletion (closed, unlisted) at all. A completed one is named the cancel's caller first
 * (nameCanceller): found listed with the hold still soft (the cancel stopped before its swap
 * landed), it would otherwise read as a run that died before its end's record, and the sweeper
 * would store that record again; so named, it owes none (owedEndRecord: storeOwedEnd stored it
 * before), and the sweeper only takes it off the list.
 */
async function listForCancel(deps: RunDeps, request: DeletionRequest, cancelledBy: string): Promise<void> {
  if (request.state === 'completed') {
    await deps.requests.nameCanceller(request.id, cancelledBy, request.heldUntil)
    request.cancelledBy = cancelledBy
  }
  await deps.requests.relist(request)
}

/**
 * recordCancel, once the hold is the cancel's (the request was listed before it moved:
 * listForCancel). A run past its lease takes it back first, so it goes on holding the request it
 * reopens. When another runner took the request meanwhile (this cancel stalled past its lease, and
 * the sweeper, finding it listed with the hold still soft, closed it before the swap landed) and
 * the hold is the cancel's, the request is listed again: the sweeper then finds the hold
 * `restoring` and finishes the cancel.
 */
async function recordCancelListed(deps: RunDeps, request: DeletionRequest, cancelledBy: string | undefined): Promise<void> {
  try {
    if (isFinished(request.state)) await reclaimLease(deps, request)
    await recordCancel(deps, request, cancelledBy)
  } catch (err) {
    if (err instanceof LeaseLostError && holdsRestoring(await deps.states.get(request.userId).catch(() => undefined), request)) {
      await deps.requests.relist(request).catch(() => undefined)
    }
    throw err
  }
}

/**
 * The cancel recorded, once: the request reopened as `cancelling` (fenced by the lease, so a run
 * that stalled past it writes nothing), which the sweeper finishes from then on. Done by the run
 * that took the hold, or, when that run died before this, by whichever run finds the hold
 * `restoring` and the request not reopened yet. Its `deletion.cancelled` audit record is stored by
 * finishCancel once the user is back, before the request can end `cancelled`.
 */
async function recordCancel(deps: RunDeps, request: DeletionRequest, cancelledBy?: string): Promise<void> {
  if (request.state === 'cancelling' || request.state === 'cancelled') return
  await deps.requests.reopen({ ...request, ...(cancelledBy !== undefined && { cancelledBy }) }, 'cancelling', request.heldUntil)
  if (cancelledBy !== undefined) request.cancelledBy = cancelledBy
  request.state = 'cancelling'
}

/**
 * Cancels a soft deletion (one with or without a grace period) of a user: allowed for the user
 * themselves, their managing parent, or an ORG_ADMIN of their organisation. The hold moves from
 * the soft deletion to `restoring` by compare-and-set, so a cancel racing the grace period's
 * erasure (or a hard deletion) either wins or finds the user erased. Then the steps are undone.
 *
 * With `answerBy` (the request deadline), the cancel's point of no return is sending that
 * compare-and-set (CommitGate `enter`), its request listed for the sweeper just before: before it
 * the deadline answers "retry" and the cancel then moves nothing (a listing already sent may land:
 * the sweeper, finding the hold still soft, takes it off again); from it, the answer waits for the cancel to be recorded (the request reopened as
 * `cancelling`, which the sweeper finishes whatever happens next: `decided`) and is then the
 * cancel's success, while the undoing goes on: the deadline never answers "retry" for a cancel
 * that then completes. (Keycloak failing the undoing before the deadline is answered 503 as
 * before: the request is `cancelling`, and the sweeper or the same cancel again finishes it.)
 *
 * A cancel that loses the user to another deletion part way (a manager's deletion erasing this
 * managed user takes the hold from `restoring`) restores nothing more and ends superseded (see
 * finishCancel); its caller is then answered as a cancel of the user as they now stand: the user
 * does not exist (hard-deleted, or the row gone) or was erased (Sunbird's deletion).
 *
 * Throws NotPermittedError, UserNotFoundError (no such user, or hard-deleted: a user that does not
 * exist), UserNotDeletedError, UserErasedError (Sunbird's deletion erased it), DependencyUnavailableError.
 */
export async function cancelDeletion(deps: DeleteUserDeps, input: CancelDeletionInput): Promise<{ requestId: string }> {
  if (!input.answerBy) return cancelOnce(deps, input)
  // What the caller is told if its deadline passes after the point of no return: the request being cancelled.
  let accepted: { requestId: string } = { requestId: '' }
  return answerByDeadline(
    input.answerBy,
    () => accepted,
    (gate) =>
      cancelOnce(deps, input, gate, (requestId) => {
        accepted = { requestId }
      }),
    { onCommit: input.onCommit },
  )
}

async function cancelOnce(deps: DeleteUserDeps, input: CancelDeletionInput, commit?: CommitGate, accepting?: (requestId: string) => void): Promise<{ requestId: string }> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const condition = await authorizedCondition(deps, input)
    if (condition.kind === 'missing') throw new UserNotFoundError()
    if (condition.kind === 'active') throw new UserNotDeletedError()
    if (condition.kind === 'sunbird') throw new UserErasedError()
    const held = condition.held
    // The soft deletion's lease first: while its own run (or the sweeper retrying one of its steps)
    // holds it, the cancel waits its turn (503), having changed nothing.
    const cancelled = await holdingLease(deps, held.requestId, async (request, closed) => {
      // Its owner is still taking the lock (or lost it to a deletion without a mode): nothing of it to undo yet.
      if (request?.steps.lock?.status !== 'done') throw new UserNotDeletedError()
      // Before anything changes: a record that cannot be stored answers "retry" with the user as they were.
      await storeOwedEnd(deps, request, closed)
      accepting?.(request.id)
      // A caller already told "retry" (its deadline passed while this run waited for the lease) gets no listing either.
      commit?.throwIfToldRetry()
      await listForCancel(deps, request, input.caller.userId)
      // Stalled over half its lease: renewed first (nothing written otherwise), so the sweeper cannot
      // take the request (and, the hold still soft, unlist it) while the move below is on its way,
      // and a cancel whose request it took already stops here rather than moving the hold of a
      // request nobody lists any more.
      await holdLeaseAhead(deps, request)
      // The point of no return: the restore begins (or an interrupted one is finished). Only now, so
      // an answer given at the end of the decision wait always follows a move of the hold under way.
      commit?.enter()
      if (held.mode === 'soft' && !(await deps.states.swap(input.userId, held, { mode: 'restoring', requestId: held.requestId }))) {
        // Listed above for nothing: a finished request owes nothing more (its end's record stored), and no cancel of it is under way.
        if (isFinished(request.state)) await deps.requests.unlist(request.id, request.heldUntil)
        return (await endTakenOver(deps, request)) ? SUPERSEDED : undefined
      }
      await recordCancelListed(deps, request, input.caller.userId)
      // Recorded: from here the sweeper finishes the cancel, whatever this run meets next.
      commit?.decided()
      if ((await finishCancel(deps, request, input.caller.userId)) === 'superseded') return SUPERSEDED
      return { requestId: request.id }
    })
    if (cancelled === SUPERSEDED) throw await answerAfterSupersession(deps, input.userId)
    if (cancelled) return cancelled
  }
  throw keptChanging('the deletion state of the user kept changing')
}

/**
 * The cancel lost the hold's swap: read it again, and when a hard deletion (not the soft request's
 * own hold) has taken it, end the soft request `superseded` here, under the lease the cancel holds,
 * if it still has something of its own to do (a grace period waiting for its erasure, a step
 * owed), as the hard deletion's lock does with that lease free (lockForPlan's supersede): that lock
 * was refused the lease this cancel holds, so without this a grace period would read `scheduled`
 * until its erasure came due. Ended as endSuperseded ends a cancel taken over (failRequest: finished,
 * audited, unlisted, then the lease given back by holdingLease). Any other hold (moved to another
 * soft request, dropped, or taken by Sunbird's route for a managed user) is read again by the
 * caller's next attempt.
 */
async function endTakenOver(deps: RunDeps, request: DeletionRequest): Promise<boolean> {
  const now = await deps.states.get(request.userId)
  if (now?.mode !== 'hard' || now.requestId === request.id || !isSupersedable(request.state)) return false
  await endSuperseded(deps, request, now)
  return true
}

/**
 * The answer to a cancel that lost the user to another deletion: what a cancel of the user as they
 * now stand is answered (a hard-deleted or missing user does not exist; Sunbird's deletion erased
 * them), never the cancel's success.
 */
async function answerAfterSupersession(deps: DeleteUserDeps, userId: string): Promise<Error> {
  const condition = await readCondition(deps, userId)
  switch (condition.kind) {
    case 'hard':
    case 'missing':
      return new UserNotFoundError()
    case 'sunbird':
      return new UserErasedError()
    case 'active':
      return new UserNotDeletedError()
    case 'soft':
      // Held again already (not by this cancel): a race lost, and the caller may ask again.
      return keptChanging('the user was held again by another deletion as this cancel lost the hold')
  }
}
