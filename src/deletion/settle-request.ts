import type { DeletionReceipt, DeletionRequest, ReceiptEntry, RequestState, StepName, StepOutcome } from './deletion-request.js'
import type { AuditRecord, AuditTrail, Clock, DeletionRequestStore, PhysicalErasure } from './ports.js'
import { finishUnderLease } from './lease.js'
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
 * Every step has run: the request is completed, or partial while a dependency still owes a step;
 * it gets its receipt (in the same write as the outcomes no checkpoint recorded), and the audit
 * trail its outcome (a partial one first, then its receipt: see below). A partial request retried
 * with nothing more done (the same stores still owed) keeps the receipt and the audit record it has. A grace period's soft phase instead waits
 * for its erasure: scheduled, still open for the sweeper.
 */
export async function settleRequest(deps: SettleDeps, request: DeletionRequest, unrecorded: Partial<Record<StepName, StepOutcome>> = {}): Promise<RequestState> {
  const pending = STEPS.filter((step) => request.steps[step]?.status === 'pending')
  const now = deps.clock.now()
  if (pending.length === 0 && request.schedule && request.plan === 'soft') {
    await finishUnderLease(deps, request, 'scheduled', { dueAt: request.schedule.eraseAt, steps: unrecorded })
    await deps.audit.append(auditRecord(request, 'deletion.scheduled', now, { eraseAt: request.schedule.eraseAt.toISOString(), plan: request.schedule.plan }))
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
  // it twice. A completed one after: a stalled run whose finish is refused audits nothing.
  if (state === 'partial') await deps.audit.append(auditRecord(request, 'deletion.partial', now, { pending: pending.join(',') }))
  await finishUnderLease(deps, request, state, { receipt, steps: unrecorded })
  request.receipt = receipt
  if (state === 'completed') await deps.audit.append(auditRecord(request, 'deletion.completed', now))
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

/** The request ends without deleting: another request locked the user first ('superseded'), or the user is gone ('not-found'). */
export async function failRequest(deps: SettleDeps, request: DeletionRequest, reason: 'superseded' | 'not-found', at: Date): Promise<void> {
  await finishUnderLease(deps, request, 'failed', { reason })
  await deps.audit.append(auditRecord(request, 'deletion.failed', at, { reason }))
}
