/** What the deletion workflow needs from the outside world, in its own words. Plain objects only. */

import type { DeletionReceipt, DeletionRequest, RequestState, StepName, StepOutcome } from './deletion-request.js'

/** The facts about a user the workflow decides on: ids and flags, never profile values. */
export interface UserRecord {
  id: string
  status: number | null
  isDeleted: boolean | null
  rootOrgId: string | null
  managedBy: string | null
}

export type MarkDeletedOutcome =
  | { kind: 'deleted' }
  | { kind: 'already-deleted' }
  /** Someone changed the row between our read and our write (e.g. blocked it); read again. */
  | { kind: 'changed'; current: UserRecord | undefined }

export interface UserStore {
  findUser(userId: string): Promise<UserRecord | undefined>
  /** Role names from user_roles, as stored. */
  findRoles(userId: string): Promise<string[]>
  /** Organisations the user belongs to (user_organisation rows not marked left). */
  findOrganisationIds(userId: string): Promise<string[]>
  /** The username, read once before the profile is blanked (only when the event may carry it). */
  findUserName(userId: string): Promise<string | null>
  /**
   * The lock: one lightweight transaction sets status 2 + isdeleted, applied only if the row still
   * holds the values we decided on. From here the user is deleted for every reader and locked out.
   */
  markDeleted(user: UserRecord, change: { requestedBy: string; at: Date }): Promise<MarkDeletedOutcome>
  /** Removes every user_lookup row of the user (username, email, phone, external ids). Idempotent. */
  eraseLookups(userId: string): Promise<number>
  /** Removes every usr_external_identity row of the user. Idempotent. */
  eraseExternalIdentities(userId: string): Promise<number>
  /** Marks every user_organisation row left (isdeleted, orgleftdate). Idempotent. */
  leaveOrganisations(userId: string, at: Date): Promise<number>
  /** Blanks every personal column of the user row. Idempotent. */
  scrubProfile(userId: string, change: { requestedBy: string; at: Date }): Promise<void>
  /** Ids of the users this user manages (managedby). */
  findManagedUserIds(userId: string): Promise<string[]>
  /** Ids of ORG_ADMINs scoped to an organisation (suggested new owners, for the event). */
  findOrgAdminIds(organisationId: string, limit: number): Promise<string[]>
}

export interface Clock {
  now(): Date
}

export type AccountErasure = 'deleted' | 'disabled' | 'absent'

/** The identity provider (Keycloak) side of a user. */
export interface IdentityProvider {
  /**
   * Ends every session of the user, then removes the account; when removal is refused, disables it
   * and blanks its names and email instead. Idempotent ('absent' when there is no such account).
   * Throws DependencyUnavailableError when the provider cannot be reached.
   */
  eraseAccount(userId: string): Promise<AccountErasure>
}

/** Durable deletion requests. */
export interface DeletionRequestStore {
  /** Creates the request (state accepted) and lists it as open; false when the id is taken already. */
  create(request: DeletionRequest, leaseUntil: Date): Promise<boolean>
  get(id: string): Promise<DeletionRequest | undefined>
  /** Newest first. */
  findByUser(userId: string, limit: number): Promise<DeletionRequest[]>
  /** Takes the request for `until` if nobody holds it: only one runner at a time. */
  acquireLease(id: string, now: Date, until: Date): Promise<boolean>
  /** Gives the request up (a runner that failed half-way), so a retry can take it over at once. */
  releaseLease(id: string): Promise<void>
  recordStep(id: string, step: StepName, outcome: StepOutcome, state: RequestState): Promise<void>
  /** Sets the final (or partial) state, the receipt, and unlists it when finished. */
  finish(id: string, state: RequestState, fields: { receipt?: DeletionReceipt; reason?: string }): Promise<void>
  /** Open requests (not completed or failed), for the sweeper. */
  listOpen(limit: number): Promise<{ id: string; userId: string }[]>
  /** The relay's confirmation that the request's event reached the topic. */
  markEventPublished(id: string, at: Date): Promise<void>
}

/** The downstream event, written durably and published by a relay. */
export interface EventOutbox {
  /** Idempotent per request: a second append for the same request keeps the first event (and its mid). */
  append(requestId: string, event: Record<string, unknown>): Promise<void>
  /** 'published' once the relay has delivered it, else 'queued' (or undefined when none). */
  state(requestId: string): Promise<'queued' | 'published' | undefined>
}

/** Append-only, hash-chained audit records. Ids and outcomes only. */
export interface AuditTrail {
  append(record: AuditRecord): Promise<void>
}

export interface AuditRecord {
  event: 'deletion.accepted' | 'deletion.completed' | 'deletion.partial' | 'deletion.failed'
  requestId: string
  userId: string
  requestedBy: string
  at: string
  detail?: Record<string, string | number>
}

/** Told about every locked (deleted) user: the lock-out cache listens. */
export interface DeletionListener {
  userDeleted(userId: string): void
}
