import type { StepName } from './steps/index.js'

export type { StepName }
export { STEPS } from './steps/index.js'

/** A step's recorded outcome: counts and verbs, never values. */
export interface StepOutcome {
  /** done: finished; pending: a dependency was unreachable, to be retried; skipped: nothing to do. */
  status: 'done' | 'pending' | 'skipped'
  /** What happened, e.g. 'deleted', 'disabled', 'absent', 'queued', 'published', 'scrubbed'. */
  action: string
  count?: number
  at: string
}

export type RequestState = 'accepted' | 'in_progress' | 'completed' | 'partial' | 'failed'

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
  steps: Partial<Record<StepName, StepOutcome>>
  /** Facts kept to authorise status reads after the profile is gone: ids only. */
  target: { rootOrgId: string | null; managedBy: string | null; organisationIds: string[] }
  createdAt: Date
  updatedAt: Date
  /** Why a request failed (e.g. 'superseded': another request locked the user first). */
  reason?: string
  receipt?: DeletionReceipt
}

/** Proof of what was done, per store, with no personal data: the subject is a keyed hash. */
export interface DeletionReceipt {
  requestId: string
  subject: string
  state: RequestState
  completedAt: string
  stores: { store: string; action: string; count?: number; why: string }[]
}

/** Completed or failed: nothing is left to do, and the request is no longer open. The one place this is decided. */
export const isFinished = (state: RequestState) => state === 'completed' || state === 'failed'
