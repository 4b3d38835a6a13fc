import { type DeletionRequest, isFinished, type RequestState, type StepName, type StepOutcome } from './deletion-request.js'
import type { Clock, DeletionRequestStore } from './ports.js'

/**
 * Until when a runner holds a request: `leaseMs` from `from` (now). Taken when a run starts and
 * renewed with every checkpoint, so another runner takes a request over only once its runner has
 * made no progress for that long, not merely because the whole run took longer.
 */
export const leaseUntil = (deps: { clock: Clock; leaseMs: number }, from: Date = deps.clock.now()): Date => new Date(from.getTime() + deps.leaseMs)

/**
 * Whether a lease ending at `heldUntil` still holds at `at`: strictly before its end. The one rule
 * of it: a runner takes a request over only once its clock is past the lease (acquireLease), and the
 * store lands a fenced write plainly only while it holds (stampedWithin), else checks it against
 * the lease.
 */
export const leaseHoldsAt = (heldUntil: Date, at: Date): boolean => at.getTime() < heldUntil.getTime()

/**
 * Whether an isClosed read taken at `readAt` may still be trusted once the lease is held: no more
 * than half the lease has passed since (a run that stalled longer may have read a state changed since).
 */
export const closedReadStillFresh = (deps: { clock: Clock; leaseMs: number }, readAt: Date): boolean => deps.clock.now().getTime() - readAt.getTime() <= deps.leaseMs / 2

/**
 * Whether the run's lease on `request` has run out by the run's clock: another runner may have
 * taken the request over, and the run's next fenced write may be refused (LeaseLostError). False
 * while it holds, and for a request the run holds no lease on (its writes are plain, never refused).
 */
export const leaseRunOut = (deps: { clock: Clock }, request: Pick<DeletionRequest, 'heldUntil'>): boolean => request.heldUntil !== undefined && !leaseHoldsAt(request.heldUntil, deps.clock.now())

/**
 * A run's write was refused because its lease ran out and another runner has taken the request
 * since (or finished it). The run stops there and leaves the request to that runner: it must not
 * release the lease, record outcomes or audit an end.
 */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError'
  constructor(readonly requestId: string) {
    super('the deletion request was taken over by another runner')
  }
}

/**
 * The create of a request fenced by a lease its caller holds (a batch slice's: DeletionInput.fencedBy)
 * was not known to be in place before that lease ended: the work may be another runner's now. The
 * caller stops there and writes nothing more of it (nothing audited, no lock); the lease's next holder
 * settles the request from what it finds, this create landed or not.
 */
export class FencePassedError extends Error {
  override name = 'FencePassedError'
  constructor(readonly requestId: string) {
    super("the lease fencing the deletion request's create ended before the create was known in place")
  }
}

/** A lease bounded by the fence of the caller's own lease, when it has one: it never outlasts that. */
export const fencedLease = (leaseUntil: Date, fence: Date | undefined): Date => (fence && fence.getTime() < leaseUntil.getTime() ? new Date(fence) : leaseUntil)

/**
 * Sends a write that lands plainly while the lease ending at `held` holds (a checkpoint, a renew),
 * renewing it to `until`. Sent while the lease held (at `sentAt`) but answered after it ran out:
 * another runner may have taken the request meanwhile, its lease winning over this late write. Held
 * only if the lease still reads as this write set it (one compare-and-set, paid only by a write that
 * stalled so); else LeaseLostError. A write sent with no lease, or after it ran out, needs no
 * confirm: it is plain (no lease to lose) or a compare-and-set itself.
 */
async function confirmIfAnsweredLate(
  deps: { requests: Pick<DeletionRequestStore, 'confirmLease'>; clock: Clock },
  requestId: string,
  held: Date | undefined,
  sentAt: Date,
  until: Date,
  write: () => Promise<void>,
): Promise<void> {
  const sentWithin = held !== undefined && leaseHoldsAt(held, sentAt)
  await write()
  if (sentWithin && !leaseHoldsAt(held, deps.clock.now())) await deps.requests.confirmLease(requestId, until)
}

/**
 * A checkpoint: records outcomes and the state under the lease the run holds, and renews that
 * lease. The one place a run's lease moves forward while it makes progress (renewLeaseAhead is
 * the other: reclaimLease, for a run whose lease ran out before its end, and holdLeaseAhead, before
 * a write the lease does not fence).
 */
export async function checkpointSteps(
  deps: { requests: Pick<DeletionRequestStore, 'recordSteps' | 'confirmLease'>; clock: Clock; leaseMs: number },
  request: DeletionRequest,
  outcomes: Partial<Record<StepName, StepOutcome>>,
  state: RequestState,
): Promise<void> {
  const held = request.heldUntil
  const sentAt = deps.clock.now()
  const until = leaseUntil(deps)
  await confirmIfAnsweredLate(deps, request.id, held, sentAt, until, () => deps.requests.recordSteps(request.id, outcomes, state, until, held))
  request.heldUntil = until
}

/**
 * Makes sure the run holds the request for at least `aheadMs` more, by its clock: with less left,
 * or once the lease has run out, the lease is renewed from now by the store's renewLease, a plain
 * write while it holds (confirmed when answered after it ran out: confirmIfAnsweredLate), a
 * compare-and-set on the lease the run held once it has run out, so it applies only if nobody took
 * the request since. LeaseLostError when another runner took it meanwhile: nothing written, and
 * the run stops there, as it does when any of its fenced writes is refused. A run that holds no
 * lease (its writes are plain) writes nothing. The lease alone is written: the request's state and
 * outcomes stay as its last write left them, for whoever resumes it.
 */
async function renewLeaseAhead(deps: { requests: Pick<DeletionRequestStore, 'renewLease' | 'confirmLease'>; clock: Clock; leaseMs: number }, request: DeletionRequest, aheadMs: number): Promise<void> {
  const held = request.heldUntil
  const now = deps.clock.now()
  if (held === undefined || (leaseHoldsAt(held, now) && held.getTime() - now.getTime() >= aheadMs)) return
  const until = leaseUntil(deps, now)
  await confirmIfAnsweredLate(deps, request.id, held, now, until, () => deps.requests.renewLease(request.id, until, held))
  request.heldUntil = until
}

/**
 * Makes sure the run still holds the request before it acts as its holder (stores the audit record
 * of its end): renewLeaseAhead with nothing ahead. While its lease holds by its clock, or when it
 * holds none, nothing is written; a run whose lease has run out takes it back, renewed from now (a
 * compare-and-set: one lightweight transaction, paid only by a run that stalled; never confirmed,
 * since it is sent only once the lease ran out).
 */
export async function reclaimLease(deps: { requests: Pick<DeletionRequestStore, 'renewLease' | 'confirmLease'>; clock: Clock; leaseMs: number }, request: DeletionRequest): Promise<void> {
  await renewLeaseAhead(deps, request, 0)
}

/**
 * Makes sure the run holds the request for at least half its lease more before a write the lease
 * does not fence (a cancel's move of the user's hold, a compare-and-set on another table): sent
 * while the lease held but landing after it ended, such a write could follow another runner's
 * take-over and undo what that runner concluded from what it read. A run that took its lease just
 * before writes nothing.
 */
export async function holdLeaseAhead(deps: { requests: Pick<DeletionRequestStore, 'renewLease' | 'confirmLease'>; clock: Clock; leaseMs: number }, request: DeletionRequest): Promise<void> {
  await renewLeaseAhead(deps, request, deps.leaseMs / 2)
}

/**
 * The request's finish (or partial, or scheduled, state) under the lease the run holds. A partial
 * or scheduled one gives the lease up, so the run holds the request no longer. A finished one keeps
 * it: the run stores the end's audit record and then closes the request (closeFinished).
 */
export async function finishUnderLease(
  deps: { requests: Pick<DeletionRequestStore, 'finish'> },
  request: DeletionRequest,
  state: RequestState,
  fields: Parameters<DeletionRequestStore['finish']>[2],
): Promise<void> {
  await deps.requests.finish(request.id, state, fields, request.heldUntil)
  request.state = state
  if (isFinished(state)) request.closeOwed = true
  else delete request.heldUntil
}

/**
 * A finished request whose end is audited leaves the sweeper's list, and then the run gives its
 * lease up: in that order, so no cancel can reopen it (which needs the lease) before the unlist.
 * A run whose lease ran out meanwhile takes it back first (reclaimLease); when another runner took
 * the request, the finish stands and that runner closes it. The unlist is fenced by the lease too:
 * a run that stalls past it right after the reclaim unlists nothing (a cancel may have taken the
 * request and listed it since), and the sweeper finds the request listed and closes it.
 */
export async function closeFinished(
  deps: { requests: Pick<DeletionRequestStore, 'renewLease' | 'confirmLease' | 'unlist' | 'releaseLease'>; clock: Clock; leaseMs: number },
  request: DeletionRequest,
): Promise<void> {
  try {
    await reclaimLease(deps, request)
  } catch (err) {
    if (!(err instanceof LeaseLostError)) throw err
    delete request.heldUntil
    delete request.closeOwed
    return
  }
  await deps.requests.unlist(request.id, request.heldUntil)
  if (request.heldUntil) await deps.requests.releaseLease(request.id, request.heldUntil)
  delete request.heldUntil
  delete request.closeOwed
}

/**
 * Gives the request back while the run still holds it (a run that stopped half-way). One the run
 * finished but could not close (closeOwed: its end's record or its unlist failed) keeps the lease
 * until it runs out: a lease given back (the epoch) says the request is closed (see the store's create of a
 * taken id), and the sweeper takes the request up once the lease runs out and stores the record.
 */
export async function giveBack(deps: { requests: Pick<DeletionRequestStore, 'releaseLease'> }, request: DeletionRequest): Promise<void> {
  if (request.heldUntil && !request.closeOwed) await deps.requests.releaseLease(request.id, request.heldUntil)
}
