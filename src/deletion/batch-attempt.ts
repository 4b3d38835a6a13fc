import { batchRequestId } from './batch-job.js'
import type { JobCancelLooks } from './batch-cancel-looks.js'
import type { Caller } from './caller.js'
import type { DeletionInput, DeletionOutcome } from './delete-account.js'
import { type DeletionRequest, type RequestState, isFinished } from './deletion-request.js'
import { CallerLockedOutError, DeletionWithdrawnError, RequestAlreadyOpenedError, UserAlreadyDeletedError, UserNotFoundError } from './errors.js'
import { FencePassedError } from './lease.js'
import type { BatchItem, BatchJob, Clock, DeletionRequestStore } from './ports.js'
import type { SliceLease } from './slice-lease.js'

/** How an error of one user's deletion is reported: its code, and whether it is a dependency in trouble (retried, counted by the breaker). */
export type ErrorClassifier = (err: unknown) => { code: string; fault: boolean }

/** What one user's try of a batch job needs of the service (BatchRunnerDeps hands these on). */
export interface BatchAttemptDeps {
  requests: Pick<DeletionRequestStore, 'get'>
  /**
   * What tells whose deletion erased a user found already deleted: the request holding their
   * deletion state (a hard deletion holds its managed users), and whom their row names as manager
   * (Sunbird's deletion holds none; a hard deletion's tombstone names none). Absent: not looked at.
   */
  erasedBy?(userId: string): Promise<{ heldBy?: string | undefined; managedBy?: string | null | undefined }>
  /**
   * The deletion engine, as a single delete runs it: `state`, what its run settled the request in
   * (absent when it did not settle it: handed over to the sweeper). Anything but completed leaves
   * steps owed.
   */
  deleteAccount(input: DeletionInput): Promise<DeletionOutcome | undefined>
  /** Finishes an open deletion request (resumeDeletion). */
  resumeDeletion(requestId: string): Promise<unknown>
  classify: ErrorClassifier
  /**
   * Whether a person is locked out (deleted, soft-deleted or being deleted), as the HTTP lock-out
   * judges their token: the same cached gate, so asking before every user costs at most one
   * Cassandra read per person per cache lifetime. A read that fails throws.
   */
  isLockedOut(userId: string): Promise<boolean>
  /**
   * Whether the job's API consumer would be admitted now (still in the consumers file; trusted with
   * deleteAnyUser when its job rests on that). Absent: always.
   */
  consumerAdmitted?(caller: Caller): boolean
  onError?(err: unknown): void
}

/**
 * What became of one try of a user: deleted; failed for a reason of their own; a fault (a dependency
 * in trouble: tried again, counted by the breaker); or not tried to the end, the user left pending
 * as they were: their request still another runner's (busy), the instance stopping, the slice lost.
 */
export type AttemptOutcome =
  /** `owed`: their deletion still owes steps (its request partial, or handed to the sweeper unfinished). */
  | { status: 'deleted'; owed?: true }
  | { status: 'failed'; err: string }
  | { status: 'fault'; err: string }
  | { status: 'cancelled' }
  | { status: 'busy' }
  /** The job's own read (its cancel, its creator's standing, the pace budget) met a dependency in trouble before the deletion: no try of the user's, a fault for the breaker. */
  | { status: 'unread' }
  /**
   * Looking for the request an earlier try may have opened, or finishing it, met a dependency in
   * trouble (`cause`): no try of the user's (their deletion may be under way), a fault for the
   * breaker unless `ofCancelledJob`.
   */
  | { status: 'unsettled'; cause: unknown; ofCancelledJob: boolean }
  | { status: 'stopped' }
  | { status: 'lease lost' }

/**
 * The user's item as the runner records it after an outcome that settles them or counts a try:
 * deleted or cancelled, failed (for a reason of their own, or a fault met `maxAttempts` times), else
 * still pending with the fault's try counted. Beside the outcomes, so that a new one is recorded in one place.
 */
export function itemAfter(item: BatchItem, outcome: Extract<AttemptOutcome, { status: 'deleted' | 'cancelled' | 'failed' | 'fault' }>, maxAttempts: number, clock: Clock): BatchItem {
  const attempts = item.attempts + (outcome.status === 'fault' ? 1 : 0)
  const gaveUp = outcome.status === 'fault' && attempts >= maxAttempts
  return outcome.status === 'deleted' || outcome.status === 'cancelled'
    ? { ...item, status: outcome.status, attempts, at: clock.now(), ...(outcome.status === 'deleted' && outcome.owed && { owed: true }) }
    : outcome.status === 'failed' || gaveUp
      ? { ...item, status: 'failed', err: outcome.err, attempts, at: clock.now() }
      : { ...item, attempts }
}

/**
 * A user deleted by a request in this state: owing steps unless it is completed (partial: a step owed
 * to a store that was down; unknown: the run handed it to the sweeper unfinished), retried until
 * done. A cancelled soft deletion (or one being cancelled) owes nothing of the job's.
 */
const deletedAs = (state: RequestState | undefined): AttemptOutcome =>
  state === 'completed' || (state !== undefined && cancelledSince(state)) ? { status: 'deleted' } : { status: 'deleted', owed: true }

/** A soft deletion (or a grace period) the person took back, or is taking back: it was carried out first. */
const cancelledSince = (state: RequestState) => state === 'cancelling' || state === 'cancelled'

/**
 * One user of a batch job tried to the end, or as far as it may go: what becomes of them is decided
 * here, apart from the runner's slices, leases and breaker, which only act on the outcome.
 */
export class BatchAttempts {
  constructor(
    private readonly deps: BatchAttemptDeps,
    /** What the runner lends: its looks at the job's cancel, its pace budget and its lease keeping (they wait, or watch the instance stopping). */
    private readonly runner: {
      cancelLooks: Pick<JobCancelLooks, 'cancelled'>
      /** One token of the job's per-second budget: 'go' once taken (or not needed). */
      takePaceToken(job: BatchJob, lease: SliceLease): Promise<'go' | 'stopped' | 'lease lost'>
      /** The slice's lease kept: false once it may be another instance's. */
      keepLease(jobId: string, lease: SliceLease): Promise<boolean>
    },
  ) {}

  /**
   * One user: their request finished if an earlier try opened it, else deleted as a single delete
   * would be. Only a user of a slice worked before, or tried before, can have an earlier try: the
   * others are spared the read (one per deletion of a bulk job), and their request's create is
   * fenced by the slice lease instead of a compare-and-set. A try that locked the user is
   * found all the same, by the "already deleted" below. The lease is checked once the pace token
   * is taken, right before the deletion: the wait for a token may outlast it.
   *
   * The caller (its consumer, its creator's standing: callerRefused) is checked before the pace
   * token, so the users of a refused caller are settled without waiting on the pace, and again
   * right before the deletion, as that wait may outlast the gate's trust in "active". A standing
   * that cannot be read is a fault, never a lock-out. The job's cancel is looked at likewise, first:
   * a cancelled job's users wait on neither; and once more right before the request is created
   * (mayBegin), so the engine's reads, however long, open no window for a cancel to be missed.
   */
  async attempt(job: BatchJob, item: BatchItem, mayHaveEarlierTry: boolean, lease: SliceLease): Promise<AttemptOutcome> {
    const requestId = batchRequestId(job.id, item.userId)
    let callerRefused: boolean
    // The job is cancelled: no deletion begins.
    let withdrawn = false
    try {
      withdrawn = await this.runner.cancelLooks.cancelled(job)
      callerRefused = !withdrawn && (await this.callerRefused(job))
      const paced = withdrawn || callerRefused ? 'go' : await this.runner.takePaceToken(job, lease)
      if (paced !== 'go') return { status: paced }
    } catch (err) {
      return this.jobReadFailed(err)
    }
    if (!(await this.runner.keepLease(job.id, lease))) return { status: 'lease lost' }
    // The cancel is looked at once more right before the request is created, past the engine's reads
    // (which may take a while): a cancel this instance answered meanwhile withdraws the deletion. A
    // look that fails withdraws it too, that failure its cause: no deletion is begun on a guess.
    const mayBegin = () =>
      this.runner.cancelLooks.cancelled(job).then(
        (cancelled) => !cancelled,
        (err: unknown) => {
          throw new DeletionWithdrawnError(requestId, { cause: err })
        },
      )
    try {
      // A deletion already under way is finished, cancelled job or locked-out creator: the sweeper would finish it anyway.
      const earlier = mayHaveEarlierTry ? await this.settleEarlierIfOpened(job, requestId) : undefined
      if (earlier) return earlier.status === 'unsettled' ? { ...earlier, ofCancelledJob: withdrawn } : earlier
      // Looked at again: the wait for a pace token may have outlasted the last look.
      let refusedNow: boolean
      try {
        withdrawn = await this.runner.cancelLooks.cancelled(job)
        refusedNow = !withdrawn && (callerRefused || (await this.callerRefused(job)))
      } catch (err) {
        return this.jobReadFailed(err)
      }
      if (withdrawn) return { status: 'cancelled' }
      if (refusedNow) return this.failure(new CallerLockedOutError())
      // The id follows from job and user, so two runners of one item (a slice taken over while its
      // holder still works it) name the same id. Where an earlier try may exist, its create is the
      // compare-and-set, and the one that finds it taken settles the user from that request instead
      // of opening a second. Where none can, only the slice's next holder, past this lease, can name
      // it: the create is fenced by the lease instead (one lightweight transaction fewer per user).
      // Either way, a create not begun within the lease is not sent: past it, the slice's next holder
      // may have settled this user without a request (recorded cancelled) that this one would then open.
      const fence = mayHaveEarlierTry ? { sentWithin: lease.heldUntil } : { fencedBy: lease.heldUntil }
      const done = await this.deps.deleteAccount({
        requestId,
        requestIdChosenBy: 'derived',
        ...fence,
        mayBegin,
        userId: item.userId,
        caller: job.caller as Caller,
        ...(job.mode && { mode: job.mode }),
      })
      return deletedAs(done?.kind === 'deleted' ? done.state : undefined)
    } catch (err) {
      // Withdrawn right before its create: the job was cancelled meanwhile, or that look failed.
      if (err instanceof DeletionWithdrawnError) return 'cause' in err ? this.jobReadFailed(err.cause) : { status: 'cancelled' }
      // The create was not known in place before the slice lease ended: the slice may be another's.
      if (err instanceof FencePassedError) return { status: 'lease lost' }
      // Another runner of this item opened its request first; or an earlier try whose create was
      // settled late (Cassandra paused, then back) locked the user meanwhile, its request resumed by
      // the sweeper: either way the user is ours, settled from that request.
      const ours = err instanceof RequestAlreadyOpenedError || (err instanceof UserAlreadyDeletedError && (await this.deps.requests.get(requestId).catch(() => undefined)) !== undefined)
      if (ours) return this.settleEarlier(job, requestId).catch((settleErr: unknown) => this.failure(settleErr))
      // Already deleted, or not found at all (a hard deletion's tombstone): perhaps by their manager's deletion in this job.
      const byThisJob = err instanceof UserAlreadyDeletedError || err instanceof UserNotFoundError ? await this.deletedByThisJob(job, item.userId) : undefined
      if (byThisJob) return byThisJob
      // Never a cancelled job's: its users reach no deletion, and a fault looking for or finishing an earlier request is 'unsettled'.
      return this.failure(err)
    }
  }

  /**
   * A user found already deleted whom this job deleted after all: a managed user whose manager is in
   * the job too, erased with the manager (their deletion's managed-users step) before their own turn.
   * Deleted once the manager's request in this job has erased, busy while it is under way; undefined
   * for a user deleted otherwise (their own code, already deleted, stands), or when it cannot be told.
   */
  private async deletedByThisJob(job: BatchJob, userId: string): Promise<AttemptOutcome | undefined> {
    if (!this.deps.erasedBy) return undefined
    // A read in trouble is no answer: the user stays pending, tried again, never failed for it.
    try {
      const managers = await this.managersRequest(job, userId)
      // A soft deletion (or a grace period's soft phase) keeps the managed users: not that.
      if (!managers || managers.plan === 'soft') return undefined
      if (managers.state === 'completed' || managers.state === 'partial') return deletedAs(managers.state)
      return isFinished(managers.state) || cancelledSince(managers.state) ? undefined : { status: 'busy' }
    } catch (err) {
      this.deps.onError?.(err)
      return { status: 'busy' }
    }
  }

  /** The request of this job that deleted the user's manager with them: the one holding the user, else their manager's. */
  private async managersRequest(job: BatchJob, userId: string): Promise<DeletionRequest | undefined> {
    const { heldBy, managedBy } = (await this.deps.erasedBy?.(userId)) ?? {}
    if (heldBy && heldBy !== batchRequestId(job.id, userId)) {
      const holder = await this.deps.requests.get(heldBy)
      if (holder && holder.userId !== userId && batchRequestId(job.id, holder.userId) === holder.id) return holder
    }
    return managedBy ? this.deps.requests.get(batchRequestId(job.id, managedBy)) : undefined
  }

  /**
   * Whether a single delete by the job's caller would now be refused (401), as it was verified when
   * submitting: its API consumer taken out of the consumers file or no longer trusted with
   * deleteAnyUser when the job rests on that, or its creator locked out (see creatorLockedOut).
   */
  private async callerRefused(job: BatchJob): Promise<boolean> {
    if (this.deps.consumerAdmitted && !this.deps.consumerAdmitted(job.caller as Caller)) return true
    return this.creatorLockedOut(job)
  }

  /**
   * Whether the job's creator is locked out now: a person deleted, soft-deleted or being deleted
   * since the submit, whose single delete would be refused. A trusted consumer's job has no person
   * behind it (its caller names the consumer).
   */
  private async creatorLockedOut(job: BatchJob): Promise<boolean> {
    if (job.caller.deleteAnyUser) return false
    // Also when the job itself deleted them: an exception for that would let a stolen admin token
    // list the admin first and keep deleting after the organisation locked the admin out.
    return this.deps.isLockedOut(job.caller.userId)
  }

  /**
   * A read of the job's own (its cancel, its creator's standing, the pace budget) failed before the
   * user's deletion began: not a try of the user's, who stays pending with no try counted (a
   * cancelled job's user is never failed for an outage), but a dependency in trouble is still the
   * attempt's fault for the breaker ('unread': a probe's reopens it).
   */
  private jobReadFailed(err: unknown): AttemptOutcome {
    if (!this.deps.classify(err).fault) return this.failure(err)
    this.deps.onError?.(err)
    return { status: 'unread' }
  }

  /** A try that threw: a fault (a dependency in trouble) is tried again, anything else is the item's answer. */
  private failure(err: unknown): AttemptOutcome {
    const { code, fault } = this.deps.classify(err)
    return fault ? { status: 'fault', err: code } : { status: 'failed', err: code }
  }

  /**
   * An earlier try of this user opened its request (then the instance died): finish that one, never
   * a second. A dependency failing meanwhile is not a try of the user's: their deletion is under way
   * (the sweeper finishes it), so they stay pending with no try counted, never failed for it. It is
   * the dependency's failure all the same ('unsettled'): the breaker counts it, as it counts a
   * deletion meeting the outage, so a restarted job (every user with an earlier try) pauses too
   * (not a cancelled job's: see workSlice).
   */
  private async settleEarlier(job: BatchJob, requestId: string): Promise<AttemptOutcome> {
    try {
      return await this.settleFrom(job, requestId)
    } catch (err) {
      return this.unsettled(err)
    }
  }

  /**
   * The same for a user an earlier try may have opened a request for: undefined when none did. A
   * fault looking for it is met as one finishing it: that try may have opened it (a Cassandra read
   * timing out while writes land), the sweeper then finishes their deletion, and a try counted
   * for it would fail a user the sweeper deletes.
   */
  private async settleEarlierIfOpened(job: BatchJob, requestId: string): Promise<AttemptOutcome | undefined> {
    let opened: boolean
    try {
      opened = (await this.deps.requests.get(requestId)) !== undefined
    } catch (err) {
      return this.unsettled(err)
    }
    return opened ? this.settleEarlier(job, requestId) : undefined
  }

  /** A dependency fault about an earlier try's request: 'unsettled'; anything else is thrown, the item's answer. */
  private unsettled(err: unknown): AttemptOutcome {
    if (!this.deps.classify(err).fault) throw err
    return { status: 'unsettled', cause: err, ofCancelledJob: false }
  }

  private async settleFrom(job: BatchJob, requestId: string): Promise<AttemptOutcome> {
    let request = await this.deps.requests.get(requestId)
    if (request && !isFinished(request.state) && !cancelledSince(request.state)) {
      await this.deps.resumeDeletion(requestId)
      request = await this.deps.requests.get(requestId)
    }
    // A soft deletion cancelled since was done by this job, as the item would read had its outcome
    // been written before the cancel (a cancel never changes an item): never tried again for ever.
    // No request to read (gone since it was opened): deleted, with nothing owed it could point to.
    if (!request) return { status: 'deleted' }
    if (request.state === 'completed' || request.state === 'partial' || request.state === 'scheduled' || cancelledSince(request.state)) return deletedAs(request.state)
    if (request.state === 'failed') {
      // Found deleted (or tombstoned: not found) by another deletion: perhaps their manager's, in this job (see deletedByThisJob).
      const byThisJob = await this.deletedByThisJob(job, request.userId)
      return byThisJob ?? { status: 'failed', err: this.deps.classify(request.reason === 'not-found' ? new UserNotFoundError() : new UserAlreadyDeletedError()).code }
    }
    // Still another runner's (the sweeper, or an instance that died and whose lease has not run out
    // yet): not a failure of the user nor of a dependency; tried again when the slice is taken again.
    return { status: 'busy' }
  }
}
