import { keptChanging } from '../../../src/deletion/errors.js'
import { isDeleted } from '../../../src/deletion/is-deleted.js'
import type { JsonRow, MarkDeletedOutcome, UserRecord, UserStore } from '../../../src/deletion/ports.js'
import { formatSunbirdTimestamp } from '../../../src/shared/sunbird-timestamp.js'
import { FailureQueue, Timeline } from './timeline.js'

type Method = keyof UserStore

export type UserStoreCall =
  | { method: Exclude<Method, 'markDeleted' | 'scrubProfile' | 'leaveOrganisations' | 'findOrgAdminIds' | 'reduceToTombstone' | 'restoreStatus'>; userId: string }
  | { method: 'reduceToTombstone'; userId: string; requestedBy: string; at: Date }
  | { method: 'restoreStatus'; userId: string; prior: { status: number | null; isDeleted: boolean | null }; lock: { requestedBy: string; at?: Date }; requestedBy: string }
  | { method: 'findOrgAdminIds'; organisationId: string; limit: number }
  | { method: 'leaveOrganisations'; userId: string; at: Date }
  | { method: 'scrubProfile'; userId: string; requestedBy: string; at: Date }
  | { method: 'markDeleted'; userId: string; user: UserRecord; requestedBy: string; at: Date }

export interface SeedUser {
  id: string
  status?: number | null
  isDeleted?: boolean | null
  rootOrgId?: string | null
  managedBy?: string | null
  /** Role names in user_roles (default ['PUBLIC']). */
  roles?: string[]
  /** Organisations the user is an ORG_ADMIN of (the scope of that role); adds ORG_ADMIN to roles. */
  adminOf?: string[]
  /** user_organisation memberships, all active at first. */
  organisationIds?: string[]
  /** Number of user_lookup rows (default 1). */
  lookups?: number
  /** Number of usr_external_identity rows (default 0). */
  externalIdentities?: number
  /** Personal columns of the user row, e.g. { username: 'asha.k', email: 'asha@example.org' }. */
  profile?: Record<string, string>
}

interface Membership {
  organisationId: string
  left: boolean
  leftAt?: Date
  /** Who added the user (addedby), and the legacy copy of their name (addedbyname). */
  addedBy?: string
  addedByName?: string | null
}

/** The profile columns every erasure empties (the adapter's ERASURE_WITNESS_COLUMNS): a deleted row holding none of them is erased. */
const ERASURE_WITNESS = ['firstname', 'lastname', 'email', 'phone']
/** The adapter's bound on restores over another writer's stamp. */
const RESTORE_OVER_STAMP_ATTEMPTS = 3

/** The lookup types Sunbird writes, in the order the fake hands them out. */
const LOOKUP_TYPES = ['email', 'phone', 'username', 'externalid']

/**
 * A UserStore held in memory that behaves like the Cassandra adapter at the port:
 * - markDeleted is a compare-and-set on status and isDeleted (the lightweight transaction); when
 *   refused for a changed row, `current` carries the row's status and isDeleted, the rest as read;
 * - scrubProfile blanks every profile value and, like the adapter's UPDATE, sets status 2 + isdeleted
 *   (writing that row when it is gone);
 * - eraseLookups / eraseExternalIdentities / leaveOrganisations return the rows they touched and are
 *   idempotent (a second call finds nothing left to erase; leaveOrganisations counts every row);
 * - findOrganisationIds lists memberships not marked left;
 * - the read* methods answer rows shaped as Cassandra's (column names lower-case); a hard
 *   deletion's removeOrganisations / eraseRoles remove rows, reduceToTombstone keeps only the
 *   tombstone's facts (status 2, isDeleted) and drops the profile, rootOrgId and managedBy;
 * - every write the adapter stamps (markDeleted, scrubProfile, reduceToTombstone, restoreStatus)
 *   keeps `updatedby` and `updateddate` (Sunbird's text form, to the millisecond), and
 *   restoreStatus is the adapter's lightweight transaction on them: applied only over the
 *   soft deletion's own lock, never writing a row that is gone or one an erasure rewrote since;
 *   `update` and `removeRow` (another writer) leave the stamp as it was, or drop it with the row,
 *   and `restamp` / `editProfile` are another writer setting `updatedby` / `updateddate`, or
 *   profile columns, only; a restore over a row someone else stamped is the adapter's (see
 *   UserStore.restoreStatus).
 *
 * Every call is recorded (`calls`) and written to the shared timeline as `users.<method>`.
 * `scriptMarkDeleted` queues outcomes returned instead of the compare-and-set, `beforeNextMarkDeleted`
 * lets another writer change the row between the workflow's read and its write, and `failNext`
 * makes one call of a method throw (after being recorded), like a dependency outage.
 */
export class InMemoryUserStore implements UserStore {
  readonly calls: UserStoreCall[] = []
  private readonly users = new Map<string, UserRecord>()
  private readonly profiles = new Map<string, Record<string, string>>()
  private readonly roles = new Map<string, string[]>()
  private readonly adminScopes = new Map<string, string[]>()
  private readonly memberships = new Map<string, Membership[]>()
  private readonly lookups = new Map<string, { type: string; value: string }[]>()
  private readonly externalIdentities = new Map<string, number>()
  /** `updatedby` and `updateddate` as the adapter's stamped writes leave them. */
  private readonly stamps = new Map<string, { by: string | null; at: string | null }>()
  private readonly scripted: MarkDeletedOutcome[] = []
  private readonly interleaved: (() => void)[] = []
  private readonly failures = new FailureQueue<Method>()

  constructor(
    seed: readonly SeedUser[] = [],
    readonly timeline: Timeline = new Timeline(),
  ) {
    for (const user of seed) this.add(user)
  }

  add(user: SeedUser): this {
    this.users.set(user.id, {
      id: user.id,
      status: user.status === undefined ? 1 : user.status,
      isDeleted: user.isDeleted === undefined ? false : user.isDeleted,
      rootOrgId: user.rootOrgId ?? null,
      managedBy: user.managedBy ?? null,
    })
    const roles = [...(user.roles ?? ['PUBLIC'])]
    if (user.adminOf?.length && !roles.includes('ORG_ADMIN')) roles.push('ORG_ADMIN')
    this.roles.set(user.id, roles)
    this.adminScopes.set(user.id, [...(user.adminOf ?? [])])
    this.memberships.set(
      user.id,
      (user.organisationIds ?? []).map((organisationId) => ({ organisationId, left: false })),
    )
    this.lookups.set(
      user.id,
      Array.from({ length: user.lookups ?? 1 }, (_, i) => {
        const type = LOOKUP_TYPES[i % LOOKUP_TYPES.length] as string
        return { type, value: `${type}-${i}-${user.id}` }
      }),
    )
    this.externalIdentities.set(user.id, user.externalIdentities ?? 0)
    this.profiles.set(user.id, { ...(user.profile ?? {}) })
    return this
  }

  /** Roles in user_roles without a user row (Sunbird's tables are not kept consistent). */
  setRoles(userId: string, roles: string[]): this {
    this.roles.set(userId, [...roles])
    return this
  }

  /** Who added the user to an organisation, with the legacy copy of their name (user_organisation.addedby, addedbyname); adds the membership when there is none. */
  setAdder(userId: string, organisationId: string, addedBy: string, addedByName: string | null): this {
    const memberships = this.memberships.get(userId) ?? []
    const membership = memberships.find((m) => m.organisationId === organisationId)
    if (membership) Object.assign(membership, { addedBy, addedByName })
    else this.memberships.set(userId, [...memberships, { organisationId, left: false, addedBy, addedByName }])
    return this
  }

  /** The addedbyname of a membership, as stored (undefined: no such row). */
  adderNameOf(userId: string, organisationId: string): string | null | undefined {
    const membership = this.memberships.get(userId)?.find((m) => m.organisationId === organisationId)
    return membership && (membership.addedByName ?? null)
  }

  /** A membership written after the fact (an organisation adding the user again), not marked left. */
  addMembership(userId: string, organisationId: string): this {
    this.memberships.set(userId, [...(this.memberships.get(userId) ?? []), { organisationId, left: false }])
    return this
  }

  /** The next markDeleted calls answer these outcomes, in order, without touching the row. */
  scriptMarkDeleted(...outcomes: MarkDeletedOutcome[]): this {
    this.scripted.push(...outcomes)
    return this
  }

  /** Runs `writer` inside the next markDeleted call, before its compare-and-set. */
  beforeNextMarkDeleted(writer: () => void): this {
    this.interleaved.push(writer)
    return this
  }

  /** The next call of `method` throws `error` (after being recorded), then the method works again. */
  failNext(method: Method, error: unknown): this {
    this.failures.add(method, error)
    return this
  }

  /** Changes a row behind the workflow's back (another writer). */
  update(userId: string, change: Partial<Omit<UserRecord, 'id'>>): this {
    const user = this.users.get(userId)
    if (!user) throw new Error(`no user ${userId}`)
    this.users.set(userId, { ...user, ...change })
    return this
  }

  /** Another writer sets `updatedby` and `updateddate` on the row and nothing else (Sunbird's services, an admin script). */
  restamp(userId: string, change: { updatedBy: string | null; at: Date | null }): this {
    if (!this.users.has(userId)) throw new Error(`no user ${userId}`)
    this.stamps.set(userId, { by: change.updatedBy, at: change.at && formatSunbirdTimestamp(change.at) })
    return this
  }

  /** Another writer sets profile columns (null: none) and nothing else, its stamp left as it was (a sync job, an admin script). */
  editProfile(userId: string, values: Record<string, string | null>): this {
    if (!this.users.has(userId)) throw new Error(`no user ${userId}`)
    const profile = { ...(this.profiles.get(userId) ?? {}) }
    for (const [column, value] of Object.entries(values)) {
      if (value === null) delete profile[column]
      else profile[column] = value
    }
    this.profiles.set(userId, profile)
    return this
  }

  /** Removes the row (and nothing else), as if someone deleted it outright. */
  removeRow(userId: string): this {
    this.users.delete(userId)
    this.stamps.delete(userId)
    return this
  }

  private stamp(userId: string, change: { requestedBy: string; at: Date }): void {
    this.stamps.set(userId, { by: change.requestedBy, at: formatSunbirdTimestamp(change.at) })
  }

  snapshot(userId: string): UserRecord | undefined {
    const user = this.users.get(userId)
    return user && { ...user }
  }

  profileOf(userId: string): Record<string, string> {
    return { ...(this.profiles.get(userId) ?? {}) }
  }

  remainingLookups(userId: string): number {
    return this.lookups.get(userId)?.length ?? 0
  }

  /** Role rows still held. */
  remainingRoles(userId: string): string[] {
    return [...(this.roles.get(userId) ?? [])]
  }

  /** Membership rows still held, left or not. */
  remainingMemberships(userId: string): number {
    return this.memberships.get(userId)?.length ?? 0
  }

  remainingExternalIdentities(userId: string): number {
    return this.externalIdentities.get(userId) ?? 0
  }

  /** Memberships not marked left. */
  activeMemberships(userId: string): string[] {
    return (this.memberships.get(userId) ?? []).filter((m) => !m.left).map((m) => m.organisationId)
  }

  methodsCalled(): string[] {
    return this.calls.map((call) => call.method)
  }

  /** How many times `method` was called, optionally for one user. */
  callCount(method: Method, userId?: string): number {
    return this.calls.filter((call) => call.method === method && (userId === undefined || ('userId' in call && call.userId === userId))).length
  }

  private enter(call: UserStoreCall): void {
    this.timeline.record('users', call.method)
    this.calls.push(call)
    this.failures.check(call.method)
  }

  async findUser(userId: string): Promise<UserRecord | undefined> {
    this.enter({ method: 'findUser', userId })
    return this.snapshot(userId)
  }

  async findRoles(userId: string): Promise<string[]> {
    this.enter({ method: 'findRoles', userId })
    return [...(this.roles.get(userId) ?? [])]
  }

  async findOrganisationIds(userId: string): Promise<string[]> {
    this.enter({ method: 'findOrganisationIds', userId })
    return this.activeMemberships(userId)
  }

  async findUserName(userId: string): Promise<string | null> {
    this.enter({ method: 'findUserName', userId })
    return this.profiles.get(userId)?.username || null
  }

  async markDeleted(user: UserRecord, change: { requestedBy: string; at: Date }): Promise<MarkDeletedOutcome> {
    this.enter({ method: 'markDeleted', userId: user.id, user: { ...user }, requestedBy: change.requestedBy, at: change.at })
    this.interleaved.shift()?.()
    const scripted = this.scripted.shift()
    if (scripted) return scripted
    const current = this.users.get(user.id)
    if (!current) return { kind: 'changed', current: undefined }
    if (isDeleted(current)) return { kind: 'already-deleted' }
    // Same condition as the Cassandra adapter's lightweight transaction: IF status = ? AND isdeleted = ?
    // A refused transaction answers only the columns it compared: the rest is what the caller read.
    if (current.status !== user.status || current.isDeleted !== user.isDeleted) return { kind: 'changed', current: { ...user, status: current.status, isDeleted: current.isDeleted } }
    this.users.set(user.id, { ...current, status: 2, isDeleted: true })
    this.stamp(user.id, change)
    return { kind: 'deleted' }
  }

  async eraseLookups(userId: string): Promise<number> {
    this.enter({ method: 'eraseLookups', userId })
    const count = this.lookups.get(userId)?.length ?? 0
    this.lookups.set(userId, [])
    return count
  }

  async eraseExternalIdentities(userId: string): Promise<number> {
    this.enter({ method: 'eraseExternalIdentities', userId })
    const count = this.externalIdentities.get(userId) ?? 0
    this.externalIdentities.set(userId, 0)
    return count
  }

  async leaveOrganisations(userId: string, at: Date): Promise<number> {
    this.enter({ method: 'leaveOrganisations', userId, at })
    const rows = this.memberships.get(userId) ?? []
    this.memberships.set(
      userId,
      rows.map((row) => ({ ...row, left: true, leftAt: at })),
    )
    return rows.length
  }

  async scrubProfile(userId: string, change: { requestedBy: string; at: Date }): Promise<void> {
    this.enter({ method: 'scrubProfile', userId, requestedBy: change.requestedBy, at: change.at })
    // Like Cassandra's UPDATE, an upsert: a user whose row is gone is left as a deleted row.
    const user = this.users.get(userId) ?? { id: userId, status: null, isDeleted: null, rootOrgId: null, managedBy: null }
    this.users.set(userId, { ...user, status: 2, isDeleted: true })
    this.stamp(userId, change)
    const profile = this.profiles.get(userId) ?? {}
    this.profiles.set(userId, Object.fromEntries(Object.keys(profile).map((column) => [column, ''])))
  }

  async findManagedUserIds(userId: string): Promise<string[]> {
    this.enter({ method: 'findManagedUserIds', userId })
    return [...this.users.values()].filter((user) => user.managedBy === userId).map((user) => user.id)
  }

  async findOrgAdminIds(organisationId: string, limit: number): Promise<string[]> {
    this.enter({ method: 'findOrgAdminIds', organisationId, limit })
    return [...this.adminScopes.entries()]
      .filter(([, organisations]) => organisations.includes(organisationId))
      .map(([id]) => id)
      .slice(0, limit)
  }

  async readUserRow(userId: string): Promise<JsonRow | undefined> {
    this.enter({ method: 'readUserRow', userId })
    const user = this.users.get(userId)
    if (!user) return undefined
    return { id: user.id, userid: user.id, status: user.status, isdeleted: user.isDeleted, rootorgid: user.rootOrgId, managedby: user.managedBy, ...this.profiles.get(userId) }
  }

  async readLookups(userId: string): Promise<{ type: string; value: string }[]> {
    this.enter({ method: 'readLookups', userId })
    return (this.lookups.get(userId) ?? []).map((lookup) => ({ ...lookup }))
  }

  async readExternalIdentities(userId: string): Promise<JsonRow[]> {
    this.enter({ method: 'readExternalIdentities', userId })
    return Array.from({ length: this.externalIdentities.get(userId) ?? 0 }, (_, i) => ({ provider: `provider-${i}`, idtype: `provider-${i}`, externalid: `ext-${i}-${userId}`, userid: userId }))
  }

  async readOrganisations(userId: string): Promise<JsonRow[]> {
    this.enter({ method: 'readOrganisations', userId })
    return (this.memberships.get(userId) ?? []).map((m) => ({ userid: userId, organisationid: m.organisationId, isdeleted: m.left, orgleftdate: m.leftAt?.toISOString() ?? null }))
  }

  async readRoles(userId: string): Promise<JsonRow[]> {
    this.enter({ method: 'readRoles', userId })
    const scopes = this.adminScopes.get(userId) ?? []
    return (this.roles.get(userId) ?? []).map((role) => ({ userid: userId, role, scope: JSON.stringify(role === 'ORG_ADMIN' ? scopes.map((organisationId) => ({ organisationId })) : []) }))
  }

  async removeOrganisations(userId: string): Promise<number> {
    this.enter({ method: 'removeOrganisations', userId })
    const count = this.memberships.get(userId)?.length ?? 0
    this.memberships.set(userId, [])
    return count
  }

  async blankAdderName(userId: string, organisationId: string, adderId: string): Promise<boolean> {
    this.enter({ method: 'blankAdderName', userId })
    const membership = this.memberships.get(userId)?.find((m) => m.organisationId === organisationId)
    if (!membership || membership.addedBy !== adderId || !membership.addedByName) return false
    membership.addedByName = null
    return true
  }

  async eraseRoles(userId: string): Promise<number> {
    this.enter({ method: 'eraseRoles', userId })
    const count = this.roles.get(userId)?.length ?? 0
    this.roles.set(userId, [])
    this.adminScopes.set(userId, [])
    return count
  }

  async reduceToTombstone(userId: string, change: { requestedBy: string; at: Date }): Promise<void> {
    this.enter({ method: 'reduceToTombstone', userId, requestedBy: change.requestedBy, at: change.at })
    // An UPDATE: the row it names exists afterwards, as a tombstone.
    this.users.set(userId, { id: userId, status: 2, isDeleted: true, rootOrgId: null, managedBy: null })
    this.stamp(userId, change)
    this.profiles.set(userId, {})
  }

  async restoreStatus(
    userId: string,
    prior: { status: number | null; isDeleted: boolean | null },
    lock: { requestedBy: string; at?: Date },
    change: { requestedBy: string; at: Date },
    stillHolds?: () => Promise<boolean>,
  ): Promise<'restored' | 'changed'> {
    this.enter({ method: 'restoreStatus', userId, prior, lock, requestedBy: change.requestedBy })
    const user = this.users.get(userId)
    // Gone: the transaction writes nothing (no row recreated).
    if (!user) return 'changed'
    // Same condition as the adapter's: IF status = 2 AND isdeleted = true AND updatedby = ? [AND updateddate = ?]
    const stamp = this.stamps.get(userId)
    const locked = isDeleted(user) && stamp?.by === lock.requestedBy && (lock.at === undefined || stamp.at === formatSunbirdTimestamp(lock.at))
    if (locked) return this.restore(userId, user, prior, change)
    if (!isDeleted(user)) return 'restored'
    // Stamped by someone else (see UserStore.restoreStatus): read, ask, then write only over the row exactly as read.
    if (!stillHolds) return 'changed'
    for (let attempt = 1; attempt <= RESTORE_OVER_STAMP_ATTEMPTS; attempt++) {
      const read = this.users.get(userId)
      if (!read) return 'changed'
      if (!isDeleted(read)) return 'restored'
      if (this.erased(userId)) return 'changed'
      const asRead = this.restoreCondition(userId)
      if (!(await stillHolds())) return 'changed'
      const now = this.users.get(userId)
      if (!now) return 'changed'
      if (!isDeleted(now)) return 'restored'
      if (this.restoreCondition(userId) === asRead) return this.restore(userId, now, prior, change)
    }
    throw keptChanging('the user row kept changing during the restore')
  }

  /** What the adapter's retry is conditioned on besides status and isdeleted: the stamp and the erasure witnesses, nulls included. */
  private restoreCondition(userId: string): string {
    const stamp = this.stamps.get(userId)
    const profile = this.profiles.get(userId) ?? {}
    return JSON.stringify([stamp?.by ?? null, stamp?.at ?? null, ...ERASURE_WITNESS.map((column) => profile[column] ?? null)])
  }

  private restore(userId: string, user: UserRecord, prior: { status: number | null; isDeleted: boolean | null }, change: { requestedBy: string; at: Date }): 'restored' {
    this.users.set(userId, { ...user, status: prior.status, isDeleted: prior.isDeleted })
    this.stamp(userId, change)
    return 'restored'
  }

  /** No profile value left that every erasure empties (a scrub blanks them, a tombstone drops them). */
  private erased(userId: string): boolean {
    const profile = this.profiles.get(userId) ?? {}
    return !ERASURE_WITNESS.some((column) => (profile[column] ?? '').trim() !== '')
  }
}
