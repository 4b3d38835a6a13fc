import type { DeletionRequest, StepOutcome } from '../deletion-request.js'
import type { Clock, DeletionListener, EventOutbox, IdentityProvider, UserStore } from '../ports.js'

/**
 * A plan is the list of steps one kind of deletion runs: `sunbird` is Sunbird's deletion (a request
 * that names no mode), `soft` locks the user out and keeps what may be restored, `hard` erases
 * everything Sunbird keeps as well. A step lists the plans that include it and may act differently
 * per plan (its context says which).
 */
export type PlanName = 'sunbird' | 'soft' | 'hard'

/** What a step may use: the ports, the clock, and the settings that change what a step does. */
export interface StepDeps {
  users: UserStore
  identity: IdentityProvider
  outbox: EventOutbox
  listener: DeletionListener
  clock: Clock
  /** Whether the event may carry the username (default no: the consumer does not need it). */
  eventIncludesUserName: boolean
  /** Told when a step could not be done now (for the log); ids only, never the error's payload. */
  onStepError?(step: string, err: unknown): void
}

export interface StepContext {
  deps: StepDeps
  request: DeletionRequest
  /** The plan this run follows. */
  plan: PlanName
  /** The username, read before the profile was scrubbed, when the event may carry it; else null. */
  userName: string | null
}

/**
 * One step of a deletion, declared once: its name (recorded on the request and shown by the status
 * endpoint), what it does for the receipt, the plans that include it, and the function that runs it.
 * `run` must be idempotent: after a crash the step may run again, and that must be harmless.
 */
export interface DeletionStep<Name extends string = string> {
  readonly name: Name
  /** The store the step acts on, as the receipt names it (e.g. cassandra.user_lookup). */
  readonly store: string
  /** Why, in a sentence a data-protection officer can read. */
  readonly why: string
  readonly plans: readonly PlanName[]
  /** Absent only for the lock, which the workflow takes itself because it decides who wins (see lock.ts). */
  readonly run?: (context: StepContext) => Promise<StepOutcome>
}

/** A step's outcome, stamped with the time it was recorded. */
export function stepOutcome(status: StepOutcome['status'], action: string, at: Date, count?: number): StepOutcome {
  return { status, action, at: at.toISOString(), ...(count !== undefined && { count }) }
}
