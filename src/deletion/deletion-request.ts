import type { PlanName } from './steps/step.js'
import type { StepName } from './steps/index.js'

export type { PlanName, StepName }
export { STEPS } from './steps/index.js'

/** Facts a step keeps so that it can be undone (cancel of a soft deletion): ids, flags and prior values of flags, never personal data. */
export type RestoreFacts = Readonly<Record<string, string | number | boolean | null | readonly string[]>>

/** A step's recorded outcome: counts and verbs, never values. */
export interface StepOutcome {
  /** done: finished; pending: a dependency was unreachable, to be retried; skipped: nothing to do. */
  status: 'done' | 'pending' | 'skipped'
  /** What happened, e.g. 'deleted', 'disabled', 'absent', 'queued', 'published', 'scrubbed'. */
  action: string
  count?: number
  at: string
  /** The plan whose run recorded it, when not Sunbird's: a grace period's erasure re-runs what its soft phase did. */
  plan?: PlanName
  /** What the step needs to undo itself on cancel (see DeletionStep.restore). Internal: never shown to clients. */
  restore?: RestoreFacts
  /** Ids the step acted on that a later step needs (the managed users a hard deletion erased, for the event). Internal. */
  ids?: string[]
  /** Keyed hashes (receipt key) of the values the step looked up by value (contacts), for deletion:verify. Internal: never the values. */
  hashes?: string[]
  /**
   * keyId() of the key `hashes` were made with: deletion:verify compares them only under that key.
   * Absent on outcomes recorded before it was kept (see verification/verify-by-value.ts).
   */
  hashKeyId?: string
  /**
   * [plain value's hash, stored value's hash] of each contact the step looked up decrypted (stored
   * encrypted), under hashKeyId: a code row is keyed by the plain value, user_lookup holds the stored
   * one. Absent: none differed, or recorded before these were kept. Internal: never the values.
   */
  hashPairs?: [string, string][]
  /** One receipt line per store when a step acts on several (extra targets). */
  entries?: { store: string; action: string; count?: number }[]
  /** Runs in a row that left the step owed for want of its dependency (see owed-retry.ts). Internal: never shown to clients. */
  owedRuns?: number
}

/**
 * accepted → in_progress → completed | partial | failed; a grace period adds scheduled (soft-deleted,
 * erasure due at eraseAt); a cancel goes cancelling → cancelled.
 */
export type RequestState = 'accepted' | 'in_progress' | 'scheduled' | 'completed' | 'partial' | 'failed' | 'cancelling' | 'cancelled'

/** The erasure a grace period ends with. */
export interface ErasureSchedule {
  /** When the soft deletion turns into the erasure. */
  eraseAt: Date
  /** The plan that runs then: Sunbird's deletion, or hard. */
  plan: Exclude<PlanName, 'soft'>
}

/**
 * Who chose a deletion request's id: the caller (its own X-Request-Id or X-msgId), which another
 * call may name too, and which on a clash gives way to an id of the service's; derived from what
 * names one deletion only (a batch job and its user), so a clash means that deletion is open
 * already and never a reason for a second request; or this service, a fresh random UUID that no
 * other call can hold. The store creates the first two with a compare-and-set, the service's with
 * a plain write; and a derived id no earlier try can have created (a batch item never tried, of a
 * slice never taken before) with a plain write fenced by the caller's slice lease
 * (DeletionRequestStore.createFenced), as only the slice's next holder, past that lease, can name it.
 */
export type RequestIdChosenBy = 'caller' | 'derived' | 'service'

/**
 * A deletion as a durable, resumable process. Each step is idempotent and records its outcome, so
 * a crash or an outage at any point leaves a request that the sweeper (or the same request again)
 * finishes without doing anything twice that matters.
 */
export interface DeletionRequest {
  /** The msgid of the delete call that created it. */
  id: string
  userId: string
  requestedBy: string
  state: RequestState
  /** The plan its steps follow now: 'sunbird' for a request that names no mode (and for requests older than modes). */
  plan: PlanName
  /** Set for a grace period: the soft plan runs first, `schedule.plan` at `schedule.eraseAt`. */
  schedule?: ErasureSchedule
  steps: Partial<Record<StepName, StepOutcome>>
  /** Facts kept to authorise status reads after the profile is gone: ids only. */
  target: { rootOrgId: string | null; managedBy: string | null; organisationIds: string[] }
  createdAt: Date
  updatedAt: Date
  /** Why a request failed (e.g. 'superseded': another request locked the user first). */
  reason?: string
  /** Whose cancel reopened it (a caller's user id): the cancel's record names them whichever run stores it. */
  cancelledBy?: string
  receipt?: DeletionReceipt
  /**
   * Until when this process's run holds the request: the lease its create, acquire or last
   * checkpoint set. Never stored; it fences the run's writes (see DeletionRequestStore.recordSteps).
   */
  heldUntil?: Date
  /**
   * This process's run finished the request (or found its end's record owed) and has not closed it
   * yet: its lease is kept, not given back, if the run stops there (see giveBack). Never stored.
   */
  closeOwed?: boolean
}

/** Proof of what was done, per store, with no personal data: the subject is a keyed hash. */
export interface DeletionReceipt {
  requestId: string
  subject: string
  /** keyId() of the key `subject` was made with; absent on receipts made before it was kept. */
  subjectKeyId?: string
  state: RequestState
  completedAt: string
  stores: ReceiptEntry[]
}

export interface ReceiptEntry {
  store: string
  action: string
  count?: number
  why: string
  /** When the store will have physically dropped the old values (from its live settings), when that can be told. */
  physicallyErasedBy?: string
  /** How and when the store drops them physically, with the settings it was computed from. */
  physicalErasure?: string
}

/** Completed, failed or cancelled: nothing is left to do, and the request is no longer open. The one place this is decided. */
export const isFinished = (state: RequestState) => state === 'completed' || state === 'failed' || state === 'cancelled'

/** A request that took its user's deletion lock and has not given it up (not failed, not cancelled): the one that holds the user. */
export const tookTheUser = (request: DeletionRequest) => request.steps.lock !== undefined && request.state !== 'failed' && request.state !== 'cancelled'

/**
 * The states an earlier soft deletion is in while it still has something of its own to do, in
 * which a hard deletion that took its hold ends it `superseded` (a cancel under way is the cancel's
 * to end; a completed one keeps its hold).
 */
export const isSupersedable = (state: RequestState) => state === 'accepted' || state === 'in_progress' || state === 'partial' || state === 'scheduled'

/** A step's outcome still counts for the plan running now (a soft phase's outcome is redone by the erasure that follows it). */
export function outcomeHolds(outcome: StepOutcome | undefined, plan: PlanName): outcome is StepOutcome {
  return outcome !== undefined && outcome.status !== 'pending' && (outcome.plan === undefined || outcome.plan === plan)
}

/**
 * A request as it is created, before anything of the user has changed: accepted, no step run yet,
 * with the ids kept to authorise status reads after the profile is gone.
 */
export function acceptedRequest(fields: {
  id: string
  userId: string
  requestedBy: string
  plan: PlanName
  schedule?: ErasureSchedule | undefined
  target: DeletionRequest['target']
  now: Date
}): DeletionRequest {
  const { id, userId, requestedBy, plan, schedule, target, now } = fields
  return { id, userId, requestedBy, state: 'accepted', plan, ...(schedule && { schedule }), steps: {}, target, createdAt: now, updatedAt: now }
}
