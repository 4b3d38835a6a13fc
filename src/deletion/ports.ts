/** What the deletion workflow needs from the outside world, in its own words. Plain objects only. */

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
  /**
   * Removes every lookup (username, email, phone, external id) and external identity of the user.
   * Idempotent: running it twice, or after a crash half-way, is harmless.
   */
  eraseLookups(userId: string): Promise<{ lookups: number; externalIdentities: number }>
  /**
   * The commit point: in one lightweight transaction, status 2 + isdeleted + every profile column
   * blanked, applied only if the row still holds the values we decided on.
   */
  markDeleted(user: UserRecord, change: { requestedBy: string; at: Date }): Promise<MarkDeletedOutcome>
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

export interface PendingErasure {
  userId: string
  since: Date
  attempts: number
}

/**
 * Identity erasures owed: written before the user-row commit (write-ahead), cleared once the
 * provider confirms, so a crash or an outage between the two never loses the step.
 */
export interface PendingIdentityErasures {
  record(userId: string, at: Date): Promise<void>
  find(userId: string): Promise<PendingErasure | undefined>
  list(limit: number): Promise<PendingErasure[]>
  attemptFailed(userId: string): Promise<void>
  clear(userId: string): Promise<void>
}

/** Told about every committed deletion (the lock-out cache listens). */
export interface DeletionListener {
  userDeleted(userId: string): void
}
