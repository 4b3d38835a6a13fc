import type { DeletionReceipt, DeletionRequest, ReceiptEntry, RequestState, StepName, StepOutcome } from './deletion-request.js'
import type { AuditRecord, AuditTrail, Clock, DeletionRequestStore, PhysicalErasure } from './ports.js'
import { finishUnderLease, leaseRunOut } from './lease.js'
import { buildReceipt, receiptStores } from './receipt.js'
import { STEPS } from './steps/index.js'

interface SettleDeps {
  requests: Pick<DeletionRequestStore, 'finish'>
  audit: AuditTrail
  clock: Clock
  receiptKey: string
  /** When each store drops old values physically (absent: the receipt does not say). */
  physicalErasure?: PhysicalErasure | undefined
}

/** The audit record of a request at one point of its life: ids and outcome only. */
export function auditRecord(request: DeletionRequest, event: AuditRecord['event'], at: Date, detail?: AuditRecord['detail']): AuditRecord {
  return { event, requestId: request.id, userId: request.userId, requestedBy: request.requestedBy, at: at.toISOString(), ...(detail && { detail }) }
}

/**
 * Ends the request in `state` (completed, failed, or scheduled for its erasure) and stores its audit
 * record, so that no request ends unaudited: the record first, while the run's lease holds (or the
 * run holds none: the finish is then a plain write), and only then the finish, which unlists a
 * finished request. An append that fails (its writes exhausted) or a process that dies between the
 * two leaves the request open and not finished: the sweeper runs its idempotent steps again and
 * settles it again, appending again. So the record may be stored twice, recognisable by its
 * (`requestId`, `event`), as may one whose finish is refused because the run stalled past its lease
 * between the two. A run whose lease has run out by its clock (another runner may have taken the
 * request over) finishes first, fenced by its lease, and audits only a finish that applied: a
 * stalled run whose finish is refused audits nothing, and the taker audits the end once.
 */
async function finishAudited(deps: SettleDeps, request: DeletionRequest, state: RequestState, fields: Parameters<typeof finishUnderLease>[3], record: AuditRecord): Promise<void> {
  if (leaseRunOut(deps, request)) {
    await finishUnderLease(deps, request, state, fields)
    await deps.audit.append(record)
    return
  }
  await deps.audit.append(record)
  await finishUnderLease(deps, request, state, fields)
}

/**
 * Every step has run: the request is completed, or partial while a dependency still owes a step;
 * it gets its receipt (in the same write as the outcomes no checkpoint recorded), and the audit
 * trail its outcome, stored before the request can end (finishAudited; a partial one before its
 * receipt: see below). A partial request retried with nothing more done (the same stores still
 * owed) keeps the receipt and the audit record it has. A grace period's soft phase instead waits
 * for its erasure: scheduled (audited first, as a completed one), still open for the sweeper.
 */
export async function settleRequest(deps: SettleDeps, request: DeletionRequest, unrecorded: Partial<Record<StepName, StepOutcome>> = {}): Promise<RequestState> {
  const pending = STEPS.filter((step) => request.steps[step]?.status === 'pending')
  const now = deps.clock.now()
  if (pending.length === 0 && request.schedule && request.plan === 'soft') {
    const record = auditRecord(request, 'deletion.scheduled', now, { eraseAt: request.schedule.eraseAt.toISOString(), plan: request.schedule.plan })
    await finishAudited(deps, request, 'scheduled', { dueAt: request.schedule.eraseAt, steps: unrecorded }, record)
    return 'scheduled'
  }
  const state: RequestState = pending.length > 0 ? 'partial' : 'completed'
  const stores = receiptStores(request)
  if (state === 'partial' && request.receipt && owesTheSame(request.receipt, stores)) {
    // A retry that failed what the last settle left owed (Keycloak still down, or still refusing):
    // the receipt and the audit record of that settle still say all there is. Keeping them makes a
    // request stuck for days cost the trail one record, not one per sweep pass; the outcomes the
    // retry recorded (and the lease given back) go as always.
    await finishUnderLease(deps, request, 'partial', { receipt: request.receipt, steps: unrecorded })
    return 'partial'
  }
  const storeNames = stores.map((entry) => entry.store)
  const horizons = deps.physicalErasure ? await deps.physicalErasure.horizons(storeNames, now) : {}
  const receipt = buildReceipt(request, state, deps.receiptKey, now, horizons, stores)
  // A partial one is audited before its receipt is written: a later retry owing the same stores
  // takes that receipt as audited already (above), so a record that could not be written leaves the
  // old receipt and the next pass audits again. A run that loses its lease between the two may leave
  // it twice. A completed one as finishAudited orders it: before the finish while the lease holds,
  // so a record that could not be written leaves the request open for the sweeper; after it once
  // the lease has run out, so a stalled run whose finish is refused audits nothing.
  if (state === 'partial') {
    await deps.audit.append(auditRecord(request, 'deletion.partial', now, { pending: pending.join(',') }))
    await finishUnderLease(deps, request, state, { receipt, steps: unrecorded })
  } else await finishAudited(deps, request, state, { receipt, steps: unrecorded }, auditRecord(request, 'deletion.completed', now))
  request.receipt = receipt
  return state
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
 * user is gone ('not-found'). Audited as finishAudited orders it: a record that could not be stored
 * leaves the request open, and whoever takes it up next reads the same and ends it again.
 */
export async function failRequest(deps: SettleDeps, request: DeletionRequest, reason: 'superseded' | 'not-found', at: Date): Promise<void> {
  await finishAudited(deps, request, 'failed', { reason }, auditRecord(request, 'deletion.failed', at, { reason }))
}
