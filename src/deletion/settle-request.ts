import type { DeletionReceipt, DeletionRequest, ErasureSchedule, ReceiptEntry, RequestState, StepName, StepOutcome } from './deletion-request.js'
import type { AuditRecord, AuditTrail, Clock, DeletionRequestStore, PhysicalErasure } from './ports.js'
import { closeFinished, finishUnderLease, reclaimLease } from './lease.js'
import { type OwedRetry, owedDueAt } from './owed-retry.js'
import { buildReceipt, erases, receiptStores } from './receipt.js'
import { receiptSha256 } from './receipt-digest.js'
import { STEPS } from './steps/index.js'

interface SettleDeps {
  requests: Pick<DeletionRequestStore, 'finish' | 'renewLease' | 'confirmLease' | 'unlist' | 'releaseLease'>
  audit: AuditTrail
  clock: Clock
  /** How long a run's lease lasts: a run whose lease ran out takes it back for this long before it audits its end. */
  leaseMs: number
  receiptKey: string
  /** When each store drops old values physically (absent: the receipt does not say). */
  physicalErasure?: PhysicalErasure | undefined
  /** How long a request owed for want of a dependency waits before it is tried again (owed-retry.ts; absent: due at once). */
  owedRetry?: OwedRetry | undefined
}

/** The audit record of a request at one point of its life: ids and outcome only. */
export function auditRecord(request: DeletionRequest, event: AuditRecord['event'], at: Date, detail?: AuditRecord['detail']): AuditRecord {
  return { event, requestId: request.id, userId: request.userId, requestedBy: request.requestedBy, at: at.toISOString(), ...(detail && { detail }) }
}

/**
 * What a record that settles a receipt adds to its detail: the digest of that exact receipt
 * (receiptSha256), so a receipt read later from the request row, or shown to an authority, can be
 * checked against the hash-chained trail (`npm run audit:verify -- --receipt <request id>`).
 */
const committingTo = (receipt: DeletionReceipt) => ({ receiptSha256: receiptSha256(receipt) })

/**
 * The audit record a finished request's end owes, as its runner stored it (endAudited): for a run
 * that died (or whose append failed) between its finish and its unlist; a completed one commits to
 * the receipt its finish stored. Undefined for a cancelled one: a cancel's record is stored before
 * its finish (finishCancel); and for a completed one a cancel named its caller on (nameCanceller):
 * that cancel stored the record first, when owed (storeOwedEnd), and listed the request after, so
 * found listed with the hold still soft it is a cancel that stopped before its hold moved.
 */
export function owedEndRecord(request: DeletionRequest): AuditRecord | undefined {
  if (request.state === 'completed' && request.cancelledBy !== undefined) return undefined
  if (request.state === 'completed') return auditRecord(request, 'deletion.completed', request.updatedAt, request.receipt && committingTo(request.receipt))
  if (request.state === 'failed') return auditRecord(request, 'deletion.failed', request.updatedAt, request.reason === undefined ? undefined : { reason: request.reason })
  return undefined
}

/**
 * Ends the request for good (completed or failed) and stores its audit record: the end decided
 * first, then recorded, then the request closed (unlisted, its lease given up: closeFinished). The
 * finish is fenced by the run's lease, so a stalled run whose request was taken over is refused
 * there and records nothing; the record never tells an end the request did not reach (a
 * `deletion.failed` stored while the request stays open could be followed by its completion). The
 * run keeps its lease from finish to close, so nobody acts on the request meanwhile. An append
 * that fails (its writes exhausted) or a run that dies before it leaves the request finished and
 * listed: whoever takes the lease up next (the sweeper, a cancel reopening it) stores the record
 * (owedEndRecord). So the record may be stored twice (a run that dies between append and unlist,
 * or stalls a lease long after its finish), recognisable by its (`requestId`, `event`); never one
 * for an end the request did not reach.
 */
async function endAudited(deps: SettleDeps, request: DeletionRequest, state: 'completed' | 'failed', fields: Parameters<typeof finishUnderLease>[3], record: AuditRecord): Promise<void> {
  // A run past its lease takes it back before the finish, so nobody takes the request between the finish and the close.
  await reclaimLease(deps, request)
  // Owed before the finish is sent: one that lands but whose answer is lost must keep the lease too,
  // since a lease given back says the end is audited and the sweeper would never store the record.
  request.closeOwed = true
  await finishUnderLease(deps, request, state, fields)
  await deps.audit.append(record)
  await closeFinished(deps, request)
}

/**
 * Settles the request in a state it does not end in (partial: a step still owed; scheduled: its
 * erasure waits for the grace period) and stores the audit record of that settle first, while the
 * run holds the request (or holds no lease: the finish is then a plain write). An append that fails
 * (its writes exhausted) or a process that dies between the two leaves the request as it was: the
 * sweeper runs its idempotent steps again and settles it again, appending again (a partial one's
 * next settle takes a stored receipt as audited: see settleRequest). So the record may be stored
 * twice, recognisable by its (`requestId`, `event`), as may one whose finish is refused because the
 * run stalled past its lease between the two. A run whose lease has run out by its clock (another
 * runner may have taken the request over) takes it back first (reclaimLease: a compare-and-set on
 * the lease it held) and then goes on the same way; when the request was taken, that is refused and
 * the run stops there, having stored and settled nothing.
 */
async function settleAudited(deps: SettleDeps, request: DeletionRequest, state: RequestState, fields: Parameters<typeof finishUnderLease>[3], record: AuditRecord): Promise<void> {
  await reclaimLease(deps, request)
  await deps.audit.append(record)
  await finishUnderLease(deps, request, state, fields)
}

/**
 * Every step has run: the request is completed, or partial while a dependency still owes a step;
 * it gets its receipt (in the same write as the outcomes no checkpoint recorded), and the audit
 * trail its outcome: a completed one once it is completed, before it is unlisted (endAudited); a
 * partial one before its receipt (settleAudited: see below), and with it when it is due again
 * (owed-retry.ts: at once, or after a delay while every owed step waits on a dependency). A partial request retried with
 * nothing more done (the same stores still owed) keeps the receipt and the audit record it has. A
 * grace period's soft phase instead waits for its erasure: scheduled (audited first, as a partial
 * one), still open for the sweeper.
 */
export async function settleRequest(deps: SettleDeps, request: DeletionRequest, unrecorded: Partial<Record<StepName, StepOutcome>> = {}): Promise<RequestState> {
  const pending = STEPS.filter((step) => request.steps[step]?.status === 'pending')
  const now = deps.clock.now()
  if (request.schedule && request.plan === 'soft') return settleScheduled(deps, request, request.schedule, pending, unrecorded, now)
  const state: RequestState = pending.length > 0 ? 'partial' : 'completed'
  const stores = receiptStores(request)
  // When the sweeper tries a partial one again, with its settle (owed-retry.ts).
  const dueAt = state === 'partial' ? owedDueAt(request.steps, deps.owedRetry, now) : undefined
  const due = dueAt === undefined ? {} : { dueAt }
  if (state === 'partial' && request.receipt && owesTheSame(request.receipt, stores)) {
    // A retry that failed what the last settle left owed (Keycloak still down, or still refusing):
    // the receipt and the audit record of that settle still say all there is. Keeping them makes a
    // request stuck for days cost the trail one record, not one per sweep pass; the outcomes the
    // retry recorded (and the lease given back) go as always. A run past its lease takes it back
    // first, as every settle does: past the lease the finish is a compare-and-set, which leaves the
    // due time out, and the request would stay due at its old time, retried every pass.
    await reclaimLease(deps, request)
    await finishUnderLease(deps, request, 'partial', { receipt: request.receipt, steps: unrecorded, ...due })
    return 'partial'
  }
  // Only what was erased has a physical horizon: the others' settings are not even read.
  const storeNames = stores.filter(erases).map((entry) => entry.store)
  const horizons = deps.physicalErasure ? await deps.physicalErasure.horizons(storeNames, now) : {}
  const receipt = buildReceipt(request, state, deps.receiptKey, now, horizons, stores)
  // A partial one is audited before its receipt is written: a later retry owing the same stores
  // takes that receipt as audited already (above), so a record that could not be written leaves the
  // old receipt and the next pass audits again.
  // Either record commits to this exact receipt (its digest rides in the record written anyway).
  if (state === 'partial')
    await settleAudited(deps, request, state, { receipt, steps: unrecorded, ...due }, auditRecord(request, 'deletion.partial', now, { pending: pending.join(','), ...committingTo(receipt) }))
  else await endAudited(deps, request, state, { receipt, steps: unrecorded }, auditRecord(request, 'deletion.completed', now, committingTo(receipt)))
  request.receipt = receipt
  return state
}

/**
 * A grace period's soft phase is through as far as its dependencies let it: scheduled, its erasure
 * at eraseAt whatever the soft phase still owes (a search engine, Redis or Keycloak down). A step
 * still owed keeps the request due before eraseAt, when owed-retry.ts says (at once, or after a
 * delay while every owed step waits on a dependency), so the sweeper retries it during the grace
 * period (scheduledNotDue); once nothing is owed it is due at eraseAt. The erasure that follows
 * runs every step again under its own plan, so it needs none of them done first. The first settle
 * is audited (`deletion.scheduled`, before the request reads so); a retry of a request that reads
 * scheduled already was audited by that settle and stores nothing more.
 */
async function settleScheduled(
  deps: SettleDeps,
  request: DeletionRequest,
  schedule: ErasureSchedule,
  pending: readonly StepName[],
  unrecorded: Partial<Record<StepName, StepOutcome>>,
  now: Date,
): Promise<'scheduled'> {
  const fields = { ...scheduledDue(request, deps.owedRetry, schedule, pending, now), steps: unrecorded }
  if (request.state === 'scheduled') {
    await reclaimLease(deps, request)
    await finishUnderLease(deps, request, 'scheduled', fields)
    return 'scheduled'
  }
  const detail = { eraseAt: schedule.eraseAt.toISOString(), plan: schedule.plan, ...(pending.length > 0 && { pending: pending.join(',') }) }
  await settleAudited(deps, request, 'scheduled', fields, auditRecord(request, 'deletion.scheduled', now, detail))
  return 'scheduled'
}

/**
 * When a grace period's soft phase is due again: at eraseAt once it owes nothing; while it owes a
 * step, when owed-retry.ts says, never later than eraseAt (nothing written without a retry delay:
 * the entry stays due as it was, at once for a first settle).
 */
function scheduledDue(request: DeletionRequest, retry: OwedRetry | undefined, schedule: ErasureSchedule, pending: readonly StepName[], now: Date): { dueAt?: Date | null } {
  if (pending.length === 0) return { dueAt: schedule.eraseAt }
  const dueAt = owedDueAt(request.steps, retry, now)
  if (dueAt === undefined) return {}
  return { dueAt: dueAt && dueAt.getTime() > schedule.eraseAt.getTime() ? schedule.eraseAt : dueAt }
}

/** The receipt lines a deletion still owes (pending), by store, in a stable order. */
const owedStores = (stores: readonly ReceiptEntry[]) =>
  stores
    .filter((entry) => entry.action === 'pending')
    .map((entry) => entry.store)
    .sort()

/**
 * The stored receipt is a partial one that owes the same stores as the request does now: nothing
 * was done since that the receipt or the audit trail would tell (a step done, or one more owed,
 * changes the owed lines). Neither what a pending step's retry says of itself ('unreachable' or
 * 'refused': the receipt says 'pending' for both) nor an event published meanwhile counts.
 */
function owesTheSame(stored: DeletionReceipt, stores: readonly ReceiptEntry[]): boolean {
  if (stored.state !== 'partial') return false
  const before = owedStores(stored.stores)
  const now = owedStores(stores)
  return before.length === now.length && before.every((store, i) => store === now[i])
}

/**
 * The request ends without deleting: another request locked the user first ('superseded'), or the
 * user is gone ('not-found'). Failed first, then audited (endAudited): whoever takes the request up
 * next finds it failed, and cannot decide otherwise after its record is stored.
 */
export async function failRequest(deps: SettleDeps, request: DeletionRequest, reason: 'superseded' | 'not-found', at: Date): Promise<void> {
  await endAudited(deps, request, 'failed', { reason }, auditRecord(request, 'deletion.failed', at, { reason }))
}
