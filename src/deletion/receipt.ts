import type { DeletionReceipt, DeletionRequest, ReceiptEntry, RequestState } from './deletion-request.js'
import { keyId, keyedHash } from './keyed-hash.js'
import { ABSENT_ON_RESUME, ABSENT_ON_RESUME_WHY } from './steps/absent-on-resume.js'
import { deletionSteps } from './steps/index.js'
import { roles } from './steps/roles.js'

/** A keyed hash of an id: lets an operator match a receipt to a user they already know, and nobody else. */
export function pseudonymise(key: string, id: string): string {
  return keyedHash(key, id)
}

/** When each store drops the old values physically, by receipt store name (see PhysicalErasure). */
export type PhysicalHorizons = Readonly<Record<string, { by?: string; how: string }>>

/**
 * The actions that removed or overwrote a person's values (or, `queued`, wrote the event a topic
 * drops at its retention; `published` once the relay has put it there before the receipt was made,
 * as a partial deletion's later pass finds it): only their entries say when the store drops the old
 * values physically.
 * Kept, not sent, appended, pending, absent, a flag set over data kept: nothing personal is going,
 * and a date there would tell an authority that data kept will be gone. Absent on resume: the run
 * that was cut short may have erased it, and the store's old values go by the same horizon.
 */
const ERASING_ACTIONS: ReadonlySet<string> = new Set(['deleted', 'scrubbed', 'blanked', 'tombstoned', 'hard-deleted', 'queued', 'published', ABSENT_ON_RESUME])

/**
 * Whether a receipt entry erased something, so that its store's physical horizon applies to it. A
 * managed users' entry joins its users' actions ("deleted, absent"): it erased if any of them did.
 */
export const erases = (entry: Pick<ReceiptEntry, 'action'>): boolean => entry.action.split(', ').some((action) => ERASING_ACTIONS.has(action))

/** Stores this service does not erase itself, and who does. */
function storesLeftToOthers(request: DeletionRequest): ReceiptEntry[] {
  const eventSent = request.plan !== 'soft'
  const downstream = (store: string, consumer: string, what: string): ReceiptEntry =>
    eventSent ? { store, action: `left to ${consumer} via the delete-user event`, why: what } : { store, action: 'kept', why: `${what}; no delete-user event while the deletion can be cancelled` }
  return [
    downstream('downstream.ml', 'ml', 'copies of the profile in the ML services (observations, surveys, projects), erased by ml-user-delete'),
    downstream('downstream.knowlg', 'knowlg', 'creator names on content and question sets, replaced by user-pii-data-updater'),
    {
      store: 'cassandra.bulk_upload_process',
      action: 'not reachable by user id',
      why: 'bulk upload files keep uploaded rows as encrypted blobs keyed by process id; the uploading organisation purges them',
    },
  ]
}

/**
 * The why of a line: the step's; on an owed line (pending), that it has not been done yet; on a line
 * a resumed run found nothing of, what that means.
 */
function whyOf(action: string, why: string): string {
  if (action === 'pending') return `owed, retried until done: ${why}`
  return action.split(', ').includes(ABSENT_ON_RESUME) ? `${why}; ${ABSENT_ON_RESUME_WHY}` : why
}

/**
 * What was done per store and why, from each step's own declaration. A store the request's plan
 * keeps (a soft deletion keeps nearly everything, to be restorable) is listed as kept, with the
 * step's own reason.
 */
export function receiptStores(request: DeletionRequest): ReceiptEntry[] {
  const stores: ReceiptEntry[] = []
  for (const step of deletionSteps) {
    const outcome = request.steps[step.name]
    const why = (outcome?.plan === 'soft' && 'softWhy' in step && step.softWhy) || (outcome?.plan === 'hard' && 'hardWhy' in step && step.hardWhy) || step.why
    if (outcome?.entries) {
      // A step with a line per store may owe one store and have done the others: only the owed lines say so.
      for (const entry of outcome.entries) stores.push({ ...entry, why: whyOf(entry.action, why) })
    } else if (outcome) {
      const action = outcome.status === 'pending' ? 'pending' : outcome.action
      stores.push({ store: step.store, action, ...(outcome.count !== undefined && { count: outcome.count }), why: whyOf(action, why) })
    } else if ('kept' in step && step !== roles && !(step.plans as readonly string[]).includes(request.plan)) {
      const keptStores = ('stores' in step.kept && step.kept.stores) || [step.store]
      for (const store of keptStores) stores.push({ store, action: step.kept.action, why: step.kept.why })
    }
  }
  // Sunbird's deletion (and a soft one) leaves user_roles as Sunbird does; a hard deletion has its own step for them.
  if (request.plan !== 'hard') stores.push({ store: roles.store, action: roles.kept.action, why: roles.kept.why })
  stores.push(...storesLeftToOthers(request))
  stores.push({ store: 'cassandra.user_deletion_audit', action: 'appended', why: 'who asked, for whom (ids), outcome and time, hash-chained; kept for accountability' })
  return stores
}

/**
 * The receipt: receiptStores, each entry that erased something (see erases) saying when its store
 * will have dropped the old values physically when `horizons` knows. No personal data: the subject appears only as a keyed hash,
 * with the id of the key that made it (an operator matching it to a user needs that key).
 * `stores` is receiptStores(request), passed by a caller that needed it first (for the horizons).
 */
export function buildReceipt(
  request: DeletionRequest,
  state: RequestState,
  key: string,
  completedAt: Date,
  horizons: PhysicalHorizons = {},
  stores: readonly ReceiptEntry[] = receiptStores(request),
): DeletionReceipt {
  const withHorizons = stores.map((entry): ReceiptEntry => {
    const horizon = horizons[entry.store]
    if (!horizon || !erases(entry)) return entry
    return { ...entry, ...(horizon.by !== undefined && { physicallyErasedBy: horizon.by }), physicalErasure: horizon.how }
  })
  return { requestId: request.id, subject: pseudonymise(key, request.userId), subjectKeyId: keyId(key), state, completedAt: completedAt.toISOString(), stores: withHorizons }
}
