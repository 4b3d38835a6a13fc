import { type Client, types } from 'cassandra-driver'
import { LRUCache } from 'lru-cache'
import { DependencyUnavailableError, keptChanging } from '../deletion/errors.js'
import { isDeleted } from '../deletion/is-deleted.js'
import type { JsonRow, MarkDeletedOutcome, UserRecord, UserStore } from '../deletion/ports.js'
import { formatSunbirdTimestamp } from '../shared/sunbird-timestamp.js'
import { IDEMPOTENT, runCassandra, writeTogether } from './cassandra-call.js'
import { toJsonRow } from './json-row.js'
import { pauseBeforeSettleRound, SETTLE_BUDGET_MS } from './settle-rounds.js'

/**
 * Every profile column of sunbird.user that can hold personal data, and what deletion leaves in it.
 * Sunbird's own API forgets username, dob, the person's role (profileusertype(s), usertype,
 * usersubtype), places (locationids: state to school), class (framework: board, medium, grade) and
 * the terms they accepted (reference §5.2); we do not. Text columns get '' as Sunbird writes them,
 * collections and timestamps null; profilelocation keeps Sunbird's '[]' so readers that parse it
 * still can. Kept: ids, status, dates, rootorgid, channel, and managedby (the guardian's id, no
 * personal value), which is read after the deletion: a parent acting for a child must be the one the
 * row names, so a repeat request by another parent is refused as before; a run again after a crash
 * finds by it the managed users it scrubbed, and so do deletion:verify and a batch looking for the
 * manager's request that erased a user. `language` is null, not '': the first tables had it as text,
 * later ones as a list. Kept of the old columns: provider and regorgid (organisations), signuptype,
 * isstatevalidated and profilevisibility (how the account was made and set, no value of the person).
 */
export const SCRUBBED_USER_COLUMNS: Readonly<Record<string, string | boolean | null>> = {
  username: '',
  email: '',
  phone: '',
  maskedemail: '',
  maskedphone: '',
  prevusedemail: '',
  prevusedphone: '',
  recoveryemail: '',
  recoveryphone: '',
  firstname: '',
  lastname: '',
  dob: '',
  countrycode: '',
  gender: '',
  avatar: '',
  loginid: '',
  emailverified: false,
  phoneverified: false,
  profilelocation: '[]',
  profiledetails: null,
  profileusertypes: '',
  profileusertype: '',
  usertype: '',
  usersubtype: '',
  locationids: null,
  framework: null,
  tncacceptedversion: '',
  tncacceptedon: null,
  alltncaccepted: null,
  // Columns older Sunbird migrations added and later dropped (sunbird-utils; most by V1.123), still on
  // tables whose drops never ran. Login times too: a record of the person's use, read by nothing now.
  aadhaarno: '',
  password: '',
  temppassword: '',
  accesscode: '',
  fullname: '',
  thumbnail: '',
  profilesummary: '',
  location: '',
  state: '',
  city: '',
  zipcode: '',
  language: null,
  subject: null,
  grade: null,
  webpages: null,
  designation: '',
  institution: '',
  types: null,
  frameworkdata: '',
  registryid: '',
  maskemail: '',
  maskphone: '',
  prevemail: '',
  prevphone: '',
  freeupemail: '',
  freeupphone: '',
  tcstatus: '',
  tcupdateddate: '',
  tacstatus: false,
  tacaccepteddate: null,
  tacversionid: '',
  lastlogintime: '',
  currentlogintime: '',
}

/** What a hard deletion leaves of the user row: a tombstone other Sunbird data can still point at. Every other column goes to null. */
export const TOMBSTONE_COLUMNS: ReadonlySet<string> = new Set(['id', 'userid', 'status', 'isdeleted', 'createddate', 'updateddate', 'updatedby'])

const TEXT_TYPES: ReadonlySet<number> = new Set([types.dataTypes.text, types.dataTypes.varchar, types.dataTypes.ascii])

/**
 * The blank a column gets: SCRUBBED_USER_COLUMNS' where the column's type takes it, else null. A
 * table whose old migrations gave a column another type than the one listed ('' into a timestamp,
 * false into text) would otherwise refuse the scrub, and every deletion with it.
 */
export function blankFor(blank: string | boolean | null, type: { code: number } | undefined): string | boolean | null {
  if (blank === null || !type) return blank
  if (typeof blank === 'string') return TEXT_TYPES.has(type.code) ? blank : null
  return type.code === types.dataTypes.boolean ? blank : null
}

/**
 * How long an organisation's ORG_ADMIN list is reused. Finding them reads every ORG_ADMIN row of
 * the deployment (the role index has one value), and it only fills the event's suggested users:
 * a minute-old list is as good, and a batch that deletes an organisation's users reads it once a
 * minute instead of once per user.
 */
const ORG_ADMINS_FRESH_MS = 60_000

/**
 * Columns every erasure empties (this service's scrub and Sunbird's own blank them, a tombstone
 * nulls them) and a live Sunbird user holds (the first name is required): a deleted row holding
 * none of them counts as erased, and a cancel never puts it back over another writer's mark.
 */
const ERASURE_WITNESS_COLUMNS: readonly string[] = ['firstname', 'lastname', 'email', 'phone']

/** Restores over another writer's stamp tried before the row counts as contended (see UserStore.restoreStatus). */
const RESTORE_OVER_STAMP_ATTEMPTS = 3

function toRecord(row: types.Row): UserRecord {
  return {
    id: row.get('id') as string,
    status: (row.get('status') as number | null) ?? null,
    isDeleted: (row.get('isdeleted') as boolean | null) ?? null,
    rootOrgId: (row.get('rootorgid') as string | null) ?? null,
    managedBy: (row.get('managedby') as string | null) ?? null,
  }
}

/** Every statement of this adapter, for one keyspace. */
function userStoreStatements(ks: string) {
  return {
    findUser: `SELECT id, status, isdeleted, rootorgid, managedby FROM ${ks}.user WHERE id = ?`,
    findUserName: `SELECT username FROM ${ks}.user WHERE id = ?`,
    findRoles: `SELECT role FROM ${ks}.user_roles WHERE userid = ?`,
    findOrganisations: `SELECT organisationid, isdeleted FROM ${ks}.user_organisation WHERE userid = ?`,
    leaveOrganisation: `UPDATE ${ks}.user_organisation SET isdeleted = true, orgleftdate = ?, updateddate = ? WHERE userid = ? AND organisationid = ?`,
    findLookups: `SELECT type, value FROM ${ks}.user_lookup WHERE userid = ?`,
    deleteLookup: `DELETE FROM ${ks}.user_lookup WHERE type = ? AND value = ?`,
    findExternalIdentities: `SELECT provider, idtype, externalid FROM ${ks}.usr_external_identity WHERE userid = ?`,
    deleteExternalIdentity: `DELETE FROM ${ks}.usr_external_identity WHERE provider = ? AND idtype = ? AND externalid = ?`,
    findManaged: `SELECT id FROM ${ks}.user WHERE managedby = ?`,
    findRoleHolders: `SELECT userid, scope FROM ${ks}.user_roles WHERE role = ?`,
    lock: `UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ? WHERE id = ? IF status = ? AND isdeleted = ?`,
    readLock: `SELECT status, isdeleted, updatedby, updateddate FROM ${ks}.user WHERE id = ?`,
    // A cancel's restore: only over the soft deletion's own lock, never over a row gone or erased since (see restoreStatus).
    restoreStatus: `UPDATE ${ks}.user SET status = ?, isdeleted = ?, updatedby = ?, updateddate = ? WHERE id = ? IF status = 2 AND isdeleted = true AND updatedby = ? AND updateddate = ?`,
    restoreStatusOfUntimedLock: `UPDATE ${ks}.user SET status = ?, isdeleted = ?, updatedby = ?, updateddate = ? WHERE id = ? IF status = 2 AND isdeleted = true AND updatedby = ?`,
    // A restore over a row another writer stamped (see restoreStatus): the row read serially, then put back only as read.
    restoreStatusAsRead: `UPDATE ${ks}.user SET status = ?, isdeleted = ?, updatedby = ?, updateddate = ? WHERE id = ? IF status = 2 AND isdeleted = true AND updatedby = ? AND updateddate = ? AND ${ERASURE_WITNESS_COLUMNS.map((column) => `${column} = ?`).join(' AND ')}`,
    readRestorable: `SELECT status, isdeleted, updatedby, updateddate, ${ERASURE_WITNESS_COLUMNS.join(', ')} FROM ${ks}.user WHERE id = ?`,
    readRow: `SELECT * FROM ${ks}.user WHERE id = ?`,
    readExternalIdentities: `SELECT * FROM ${ks}.usr_external_identity WHERE userid = ?`,
    readOrganisations: `SELECT * FROM ${ks}.user_organisation WHERE userid = ?`,
    readRoles: `SELECT * FROM ${ks}.user_roles WHERE userid = ?`,
    removeOrganisations: `DELETE FROM ${ks}.user_organisation WHERE userid = ?`,
    eraseRoles: `DELETE FROM ${ks}.user_roles WHERE userid = ?`,
    countOrganisations: `SELECT organisationid FROM ${ks}.user_organisation WHERE userid = ?`,
    countRoles: `SELECT role FROM ${ks}.user_roles WHERE userid = ?`,
    readAdderName: `SELECT addedby, addedbyname FROM ${ks}.user_organisation WHERE userid = ? AND organisationid = ?`,
    // Only after readAdderName found `addedby` to be the person: the read is for that check, not to
    // spare a row (setting a column to null writes a cell tombstone, which never makes a row live).
    // Window: should Sunbird re-add the user to the organisation with another adder between the read
    // and this write, that adder's name is nulled. `IF addedby = ?` would close it at the cost of a
    // Paxos round (four round trips at serial consistency) per row of a deletion, for a race only a
    // Sunbird that still writes this legacy column can lose (8.0 does not); what is lost is a display
    // name, and the adder's id stays.
    blankAdderName: `UPDATE ${ks}.user_organisation SET addedbyname = null WHERE userid = ? AND organisationid = ?`,
  }
}

/** sunbird.user and its side tables, behind the workflow's UserStore port. */
export class CassandraUserStore implements UserStore {
  private readonly cql: ReturnType<typeof userStoreStatements>
  /** The last statements built from the user table (the tombstone's, the scrub's), and the driver's table metadata they were built from. */
  private fromTable: { table: object; tombstone: string; scrub: { cql: string; values: unknown[] } } | undefined

  /** Keyed by limit and organisation; concurrent misses share one read. */
  private readonly orgAdmins: LRUCache<string, string[], { organisationId: string; limit: number }>

  constructor(
    private readonly client: Client,
    private readonly keyspace: string,
  ) {
    this.cql = userStoreStatements(keyspace)
    this.orgAdmins = new LRUCache({
      max: 10_000,
      ttl: ORG_ADMINS_FRESH_MS,
      fetchMethod: (_key, _stale, { context }) => this.readOrgAdminIds(context.organisationId, context.limit),
    })
  }

  /**
   * The UPDATEs that erase the row, from the table as it stands (the driver drops its cached table on
   * a schema change, so the table read here is a new object, and they are built again from it, also
   * in a process started before). The tombstone's: a column Sunbird adds later is nulled too. The
   * scrub's: the columns of SCRUBBED_USER_COLUMNS the table has, since Sunbird's own table has no
   * `gender` or `avatar` (its V1.123 dropped them with most of the old columns; migration 1 of a
   * keyspace of our own has them),
   * and a column the table lacks holds nothing to blank.
   */
  private async statementsFromTable(): Promise<{ tombstone: string; scrub: { cql: string; values: unknown[] } }> {
    const table = await runCassandra(this.client, (client) => client.metadata.getTable(this.keyspace, 'user'))
    if (!table) throw new Error('no user table')
    if (this.fromTable?.table !== table) {
      const names = table.columns.map((column) => column.name)
      const cleared = names.filter((name) => !TOMBSTONE_COLUMNS.has(name))
      const tombstone = `UPDATE ${this.keyspace}.user SET status = 2, isdeleted = true, userid = ?, updatedby = ?, updateddate = ?, ${cleared.map((name) => `"${name}" = null`).join(', ')} WHERE id = ?`
      const typeOf = new Map(table.columns.map((column) => [column.name, column.type as { code: number } | undefined]))
      const blanked = Object.entries(SCRUBBED_USER_COLUMNS).filter(([name]) => typeOf.has(name))
      const scrub = `UPDATE ${this.keyspace}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ?, ${blanked.map(([name]) => `${name} = ?`).join(', ')} WHERE id = ?`
      this.fromTable = { table, tombstone, scrub: { cql: scrub, values: blanked.map(([name, value]) => blankFor(value, typeOf.get(name))) } }
    }
    return this.fromTable
  }

  private execute(cql: string, params: unknown[]) {
    return runCassandra(this.client, (client) => client.execute(cql, params, IDEMPOTENT))
  }

  async findUser(userId: string): Promise<UserRecord | undefined> {
    const row = (await this.execute(this.cql.findUser, [userId])).first()
    return row ? toRecord(row) : undefined
  }

  async findUserName(userId: string): Promise<string | null> {
    const row = (await this.execute(this.cql.findUserName, [userId])).first()
    return (row?.get('username') as string | null | undefined) || null
  }

  async findRoles(userId: string): Promise<string[]> {
    return (await this.execute(this.cql.findRoles, [userId])).rows.map((row) => row.get('role') as string)
  }

  async findOrganisationIds(userId: string): Promise<string[]> {
    const result = await this.execute(this.cql.findOrganisations, [userId])
    return result.rows.filter((row) => row.get('isdeleted') !== true).map((row) => row.get('organisationid') as string)
  }

  async markDeleted(user: UserRecord, change: { requestedBy: string; at: Date }): Promise<MarkDeletedOutcome> {
    // A row read as deleted has nothing to lock (the transaction would apply and rewrite who deleted
    // it, and the caller would think it won): the row only tells whether it still stands deleted.
    if (isDeleted(user)) return notLocked(await this.findUser(user.id))
    const params = [change.requestedBy, formatSunbirdTimestamp(change.at), user.id, user.status, user.isDeleted]
    let result: types.ResultSet
    try {
      // A lightweight transaction is not idempotent: the driver must not replay it on its own.
      result = await runCassandra(this.client, (client) => client.execute(this.cql.lock, params, { prepare: true }))
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
      return this.settleLock(user, params, Date.now() + SETTLE_BUDGET_MS)
    }
    if (result.wasApplied()) return { kind: 'deleted' }
    const row = result.first()
    // Not applied and no current values: the row is gone.
    if (!row || row.get('status') === undefined) return notLocked(undefined)
    return notLocked({ ...user, status: row.get('status') ?? null, isDeleted: row.get('isdeleted') ?? null })
  }

  /**
   * The lock's answer was lost (timeout, node gone): it may have applied, or may still be queued on
   * the server and apply later. A serial read finishes any round in flight: our own change (same
   * author and timestamp) means we hold the lock; another's means we lost. A row still unchanged is
   * not final (the lost lock may yet run), so the lock is sent again with the same values: whichever
   * of our copies applies leaves the same mark, and the others then find the row changed. When
   * Cassandra cannot settle it within SETTLE_BUDGET_MS, the outcome is unknown.
   */
  private async settleLock(user: UserRecord, params: unknown[], settleBy: number, round = 0): Promise<MarkDeletedOutcome> {
    if (Date.now() >= settleBy) return { kind: 'unknown' }
    let row: types.Row | null
    try {
      row = (await runCassandra(this.client, (client) => client.execute(this.cql.readLock, [user.id], { prepare: true, consistency: types.consistencies.localSerial }))).first()
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
      await pauseBeforeSettleRound(round)
      return this.settleLock(user, params, settleBy, round + 1)
    }
    if (!row) return notLocked(undefined)
    const current: UserRecord = { ...user, status: (row.get('status') as number | null) ?? null, isDeleted: (row.get('isdeleted') as boolean | null) ?? null }
    if (isDeleted(current)) return row.get('updatedby') === params[0] && row.get('updateddate') === params[1] ? { kind: 'deleted' } : { kind: 'already-deleted' }
    if (current.status !== user.status || current.isDeleted !== user.isDeleted) return notLocked(current)
    try {
      const again = await runCassandra(this.client, (client) => client.execute(this.cql.lock, params, { prepare: true }))
      if (again.wasApplied()) return { kind: 'deleted' }
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
    }
    return this.settleLock(user, params, settleBy, round + 1)
  }

  async eraseLookups(userId: string): Promise<number> {
    const rows = (await this.execute(this.cql.findLookups, [userId])).rows
    await writeTogether(
      this.client,
      rows.map((row) => ({ query: this.cql.deleteLookup, params: [row.get('type'), row.get('value')] })),
    )
    return rows.length
  }

  async eraseExternalIdentities(userId: string): Promise<number> {
    const rows = (await this.execute(this.cql.findExternalIdentities, [userId])).rows
    await writeTogether(
      this.client,
      rows.map((row) => ({ query: this.cql.deleteExternalIdentity, params: [row.get('provider'), row.get('idtype'), row.get('externalid')] })),
    )
    return rows.length
  }

  async leaveOrganisations(userId: string, at: Date): Promise<number> {
    const rows = (await this.execute(this.cql.findOrganisations, [userId])).rows
    const when = formatSunbirdTimestamp(at)
    await writeTogether(
      this.client,
      rows.map((row) => ({ query: this.cql.leaveOrganisation, params: [when, when, userId, row.get('organisationid')] })),
    )
    return rows.length
  }

  async scrubProfile(userId: string, change: { requestedBy: string; at: Date }): Promise<void> {
    const { scrub } = await this.statementsFromTable()
    await this.execute(scrub.cql, [change.requestedBy, formatSunbirdTimestamp(change.at), ...scrub.values, userId])
  }

  async findManagedUserIds(userId: string): Promise<string[]> {
    return (await this.execute(this.cql.findManaged, [userId])).rows.map((row) => row.get('id') as string)
  }

  async readUserRow(userId: string): Promise<JsonRow | undefined> {
    const row = (await this.execute(this.cql.readRow, [userId])).first()
    return row ? toJsonRow(row) : undefined
  }

  async readLookups(userId: string): Promise<{ type: string; value: string }[]> {
    return (await this.execute(this.cql.findLookups, [userId])).rows.map((row) => ({ type: row.get('type') as string, value: row.get('value') as string }))
  }

  async readExternalIdentities(userId: string): Promise<JsonRow[]> {
    return (await this.execute(this.cql.readExternalIdentities, [userId])).rows.map(toJsonRow)
  }

  async readOrganisations(userId: string): Promise<JsonRow[]> {
    return (await this.execute(this.cql.readOrganisations, [userId])).rows.map(toJsonRow)
  }

  async readRoles(userId: string): Promise<JsonRow[]> {
    return (await this.execute(this.cql.readRoles, [userId])).rows.map(toJsonRow)
  }

  async removeOrganisations(userId: string): Promise<number> {
    const count = (await this.execute(this.cql.countOrganisations, [userId])).rowLength
    if (count > 0) await this.execute(this.cql.removeOrganisations, [userId])
    return count
  }

  async eraseRoles(userId: string): Promise<number> {
    const count = (await this.execute(this.cql.countRoles, [userId])).rowLength
    if (count > 0) await this.execute(this.cql.eraseRoles, [userId])
    return count
  }

  async reduceToTombstone(userId: string, change: { requestedBy: string; at: Date }): Promise<void> {
    const { tombstone } = await this.statementsFromTable()
    await this.execute(tombstone, [userId, change.requestedBy, formatSunbirdTimestamp(change.at), userId])
  }

  /**
   * A lightweight transaction, not a plain UPDATE: an UPDATE of a row that is gone writes it again
   * (status 1 and isdeleted false on an otherwise empty row), and one of a row an erasure rewrote
   * (a hard deletion's tombstone, a scrub: both status 2 + isdeleted, with their own updatedby and
   * updateddate) would let an erased user in again. The condition is the mark the soft deletion's
   * lock left (as settleLock recognises its own lock), so the restore applies only over that lock.
   * Refused, the transaction answers the row as it is: not deleted means it was put back already
   * (a repeat after a lost answer or a crash); anything else is the row gone or erased, left alone.
   * Not replayed by the driver (not idempotent); a lost answer fails as unavailable, and the repeat
   * then finds which it was. A row another writer stamped since: see UserStore.restoreStatus.
   */
  async restoreStatus(
    userId: string,
    prior: { status: number | null; isDeleted: boolean | null },
    lock: { requestedBy: string; at?: Date },
    change: { requestedBy: string; at: Date },
    stillHolds?: () => Promise<boolean>,
  ): Promise<'restored' | 'changed'> {
    const set = [prior.status, prior.isDeleted, change.requestedBy, formatSunbirdTimestamp(change.at), userId]
    const [cql, params] = lock.at ? [this.cql.restoreStatus, [...set, lock.requestedBy, formatSunbirdTimestamp(lock.at)]] : [this.cql.restoreStatusOfUntimedLock, [...set, lock.requestedBy]]
    const refused = await this.restoreOrWhy(cql, params)
    if (refused !== 'deleted') return refused
    if (!stillHolds) return 'changed'
    for (let attempt = 1; attempt <= RESTORE_OVER_STAMP_ATTEMPTS; attempt++) {
      const row = (await runCassandra(this.client, (client) => client.execute(this.cql.readRestorable, [userId], { prepare: true, consistency: types.consistencies.localSerial }))).first()
      if (!row) return 'changed'
      if (!isDeleted({ status: (row.get('status') as number | null) ?? null, isDeleted: (row.get('isdeleted') as boolean | null) ?? null })) return 'restored'
      if (!ERASURE_WITNESS_COLUMNS.some((column) => holdsValue(row.get(column)))) return 'changed'
      if (!(await stillHolds())) return 'changed'
      const asRead = ['updatedby', 'updateddate', ...ERASURE_WITNESS_COLUMNS].map((column) => (row.get(column) as string | null) ?? null)
      const again = await this.restoreOrWhy(this.cql.restoreStatusAsRead, [...set, ...asRead])
      if (again !== 'deleted') return again
    }
    throw keptChanging('the user row kept changing during the restore')
  }

  /** One conditioned restore: 'restored' when applied or the row reads put back already, 'changed' when it is gone, 'deleted' when it still reads deleted. */
  private async restoreOrWhy(cql: string, params: unknown[]): Promise<'restored' | 'changed' | 'deleted'> {
    const result = await runCassandra(this.client, (client) => client.execute(cql, params, { prepare: true }))
    if (result.wasApplied()) return 'restored'
    const row = result.first()
    // Not applied and no current values: the row is gone.
    if (!row || row.get('status') === undefined) return 'changed'
    return isDeleted({ status: row.get('status') ?? null, isDeleted: row.get('isdeleted') ?? null }) ? 'deleted' : 'restored'
  }

  async blankAdderName(userId: string, organisationId: string, adderId: string): Promise<boolean> {
    const row = (await this.execute(this.cql.readAdderName, [userId, organisationId])).first()
    if (!row || row.get('addedby') !== adderId || !row.get('addedbyname')) return false
    await this.execute(this.cql.blankAdderName, [userId, organisationId])
    return true
  }

  async findOrgAdminIds(organisationId: string, limit: number): Promise<string[]> {
    const ids = await this.orgAdmins.fetch(`${limit}:${organisationId}`, { context: { organisationId, limit } })
    return [...(ids ?? [])]
  }

  private async readOrgAdminIds(organisationId: string, limit: number): Promise<string[]> {
    const ids: string[] = []
    for (const row of (await this.execute(this.cql.findRoleHolders, ['ORG_ADMIN'])).rows) {
      if (ids.length >= limit) break
      const scope = parseScope(row.get('scope') as string | null)
      if (scope.includes(organisationId)) ids.push(row.get('userid') as string)
    }
    return ids
  }
}

/** Why a lock did not apply: the row is gone, someone else deleted it, or it changed since it was read. */
function notLocked(current: UserRecord | undefined): MarkDeletedOutcome {
  if (!current) return { kind: 'changed', current: undefined }
  if (isDeleted(current)) return { kind: 'already-deleted' }
  return { kind: 'changed', current }
}

/** A column value an erasure would have emptied: a non-blank text. */
function holdsValue(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== ''
}

/** user_roles.scope is JSON text: [{"organisationId": "..."}]. */
function parseScope(text: string | null): string[] {
  try {
    const parsed: unknown = JSON.parse(text ?? '[]')
    return Array.isArray(parsed) ? parsed.map((entry) => (entry as { organisationId?: unknown })?.organisationId).filter((id): id is string => typeof id === 'string') : []
  } catch {
    return []
  }
}
