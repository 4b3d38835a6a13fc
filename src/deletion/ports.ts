/** What the deletion workflow needs from the outside world, in its own words. Plain objects only. */

import type { DeletionReceipt, DeletionRequest, PlanName, RequestState, StepName, StepOutcome } from './deletion-request.js'

/** A value as it leaves the service in an export: JSON, nothing else. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A stored row, column by column, as JSON (timestamps as ISO 8601 text). */
export type JsonRow = { [column: string]: JsonValue }

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
  /**
   * The transaction's answer was lost (a timeout) and the row could not be read back either: it may
   * have applied. The request stays open; the sweeper reads the row again and finishes it.
   */
  | { kind: 'unknown' }

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
   * A lost answer is settled by reading the row back (serially): 'deleted' only when it holds this
   * very change; DependencyUnavailableError only when the change is known not to have applied.
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

  // What the person's export shows, and what a dry run counts: every row as stored.
  /** The user row, every column. */
  readUserRow(userId: string): Promise<JsonRow | undefined>
  /** Every user_lookup row of the user. */
  readLookups(userId: string): Promise<{ type: string; value: string }[]>
  /** Every usr_external_identity row of the user. */
  readExternalIdentities(userId: string): Promise<JsonRow[]>
  /** Every user_organisation row of the user, left ones included. */
  readOrganisations(userId: string): Promise<JsonRow[]>
  /** Every user_roles row of the user. */
  readRoles(userId: string): Promise<JsonRow[]>

  // The hard deletion: what Sunbird keeps goes too.
  /** Removes every user_organisation row of the user. Idempotent. */
  removeOrganisations(userId: string): Promise<number>
  /** Removes every user_roles row of the user. Idempotent. */
  eraseRoles(userId: string): Promise<number>
  /** Leaves only id, userid, status 2, isdeleted, createddate, updateddate and updatedby on the row; every other column null. Idempotent. */
  reduceToTombstone(userId: string, change: { requestedBy: string; at: Date }): Promise<void>

  // Cancel of a soft deletion.
  /** Puts status and isdeleted back to what they were before the lock. */
  restoreStatus(userId: string, prior: { status: number | null; isDeleted: boolean | null }, change: { requestedBy: string; at: Date }): Promise<void>
}

export interface Clock {
  now(): Date
}

export type AccountErasure = 'deleted' | 'disabled' | 'absent'

/** The identity provider's account of a person, as the export shows it. */
export type AccountRecord = {
  username: string | null
  email: string | null
  firstName: string | null
  lastName: string | null
  enabled: boolean
  /** When the account was created (ISO 8601), when the provider says. */
  created: string | null
  attributes: Record<string, string[]>
  federatedIdentities: { identityProvider: string; userId: string; userName: string }[]
}

/** The identity provider (Keycloak) side of a user. */
export interface IdentityProvider {
  /**
   * Ends every session of the user, then removes the account; when removal is refused, disables it
   * and blanks its names and email instead. Idempotent ('absent' when there is no such account).
   * Throws DependencyUnavailableError when the provider cannot be reached.
   */
  eraseAccount(userId: string): Promise<AccountErasure>
  /**
   * Ends every session of the user and disables the account, keeping it (soft deletion). Says
   * whether it was enabled before, so a cancel puts back what was there. Idempotent.
   */
  disableAccount(userId: string): Promise<{ outcome: 'disabled' | 'absent'; wasEnabled: boolean }>
  /** Enables the account again (cancel of a soft deletion); the person signs in anew. */
  enableAccount(userId: string): Promise<'enabled' | 'absent'>
  /** The account as the provider holds it, or undefined when there is none. */
  readAccount(userId: string): Promise<AccountRecord | undefined>
}

/**
 * Which deletion holds a user, one row per user, changed only by compare-and-set: of requests
 * racing for one change of state exactly one wins. No row: the user row alone says (active, or
 * deleted by Sunbird's deletion). `restoring`: a cancel is putting a soft deletion back.
 */
export interface UserDeletionState {
  mode: 'soft' | 'hard' | 'sunbird' | 'restoring'
  /** The request that holds it. */
  requestId: string
}

export interface UserDeletionStates {
  get(userId: string): Promise<UserDeletionState | undefined>
  /** Replaces `expected` (undefined: no row) with `next` (undefined: remove the row) if the row still holds `expected`; false otherwise. */
  swap(userId: string, expected: UserDeletionState | undefined, next: UserDeletionState | undefined): Promise<boolean>
}

/** Durable deletion requests. */
export interface DeletionRequestStore {
  /**
   * Lists the request as open and creates it (state accepted); false when the id is taken already.
   * Creating it is the point of no return: from there the request is carried out (by the sweeper
   * if not by its runner). DependencyUnavailableError only when it is known not to exist; 'unknown'
   * when the answer was lost and the row could not be read back (the store keeps settling it in the
   * background, so it exists once the store is reachable again).
   */
  create(request: DeletionRequest, leaseUntil: Date): Promise<boolean | 'unknown'>
  get(id: string): Promise<DeletionRequest | undefined>
  /** Newest first. */
  findByUser(userId: string, limit: number): Promise<DeletionRequest[]>
  /** Takes the request for `until` if nobody holds it: only one runner at a time. */
  acquireLease(id: string, now: Date, until: Date): Promise<boolean>
  /** Gives the request up (a runner that failed half-way), so a retry can take it over at once. */
  releaseLease(id: string): Promise<void>
  recordStep(id: string, step: StepName, outcome: StepOutcome, state: RequestState): Promise<void>
  /** Sets the final (or partial, or scheduled) state, the receipt, and unlists it when finished; a scheduled one is listed as due at `dueAt`. */
  finish(id: string, state: RequestState, fields: { receipt?: DeletionReceipt; reason?: string; dueAt?: Date }): Promise<void>
  /** Open requests (not finished) due by `dueBy` (a scheduled one is due at its erasure time; others always), for the sweeper. */
  listOpen(limit: number, dueBy?: Date): Promise<{ id: string; userId: string; dueAt?: Date }[]>
  /** A grace period ends: the request follows its erasure plan from here. */
  updatePlan(id: string, plan: PlanName, state: RequestState): Promise<void>
  /** A finished request is taken up again (a cancel undoing it): the state, and listed open so the sweeper finishes it. */
  reopen(id: string, state: RequestState): Promise<void>
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
  event: 'deletion.accepted' | 'deletion.completed' | 'deletion.partial' | 'deletion.failed' | 'deletion.scheduled' | 'deletion.cancelled' | 'user.exported'
  requestId: string
  userId: string
  requestedBy: string
  at: string
  detail?: Record<string, string | number>
}

/** Told about every locked (deleted) user and every restored one: the lock-out cache listens. */
export interface DeletionListener {
  /** `restorable`: a soft deletion, which a cancel may undo (so the answer is not kept as final). */
  userDeleted(userId: string, restorable?: boolean): void
  userRestored(userId: string): void
}
