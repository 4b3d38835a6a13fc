import type { Client, types } from 'cassandra-driver'
import type { MarkDeletedOutcome, UserRecord, UserStore } from '../deletion/ports.js'
import { formatSunbirdTimestamp } from '../shared/sunbird-timestamp.js'
import { runCassandra } from './driver-errors.js'

/**
 * Every profile column of sunbird.user that can hold personal data, and what deletion leaves in it.
 * Sunbird's own API forgets username and dob (reference §5.2); we do not. Text columns get '' as
 * Sunbird writes them; profilelocation keeps Sunbird's '[]' so readers that parse it still can.
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
}

const scrubColumns = Object.keys(SCRUBBED_USER_COLUMNS)
const scrubValues = Object.values(SCRUBBED_USER_COLUMNS)

const idempotent = { prepare: true, isIdempotent: true } as const

function toRecord(row: types.Row): UserRecord {
  return {
    id: row.get('id') as string,
    status: (row.get('status') as number | null) ?? null,
    isDeleted: (row.get('isdeleted') as boolean | null) ?? null,
    rootOrgId: (row.get('rootorgid') as string | null) ?? null,
    managedBy: (row.get('managedby') as string | null) ?? null,
  }
}

/** sunbird.user and its side tables, behind the workflow's UserStore port. */
export class CassandraUserStore implements UserStore {
  private readonly cql: {
    findUser: string
    findRoles: string
    findOrganisations: string
    findLookups: string
    deleteLookup: string
    findExternalIdentities: string
    deleteExternalIdentity: string
    markDeleted: string
  }

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    const ks = keyspace
    this.cql = {
      findUser: `SELECT id, status, isdeleted, rootorgid, managedby FROM ${ks}.user WHERE id = ?`,
      findRoles: `SELECT role FROM ${ks}.user_roles WHERE userid = ?`,
      findOrganisations: `SELECT organisationid, isdeleted FROM ${ks}.user_organisation WHERE userid = ?`,
      findLookups: `SELECT type, value FROM ${ks}.user_lookup WHERE userid = ?`,
      deleteLookup: `DELETE FROM ${ks}.user_lookup WHERE type = ? AND value = ?`,
      findExternalIdentities: `SELECT provider, idtype, externalid FROM ${ks}.usr_external_identity WHERE userid = ?`,
      deleteExternalIdentity: `DELETE FROM ${ks}.usr_external_identity WHERE provider = ? AND idtype = ? AND externalid = ?`,
      markDeleted:
        `UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ?, ` +
        `${scrubColumns.map((column) => `${column} = ?`).join(', ')} WHERE id = ? IF status = ? AND isdeleted = ?`,
    }
  }

  async findUser(userId: string): Promise<UserRecord | undefined> {
    const row = (await runCassandra(() => this.client.execute(this.cql.findUser, [userId], idempotent))).first()
    return row ? toRecord(row) : undefined
  }

  async findRoles(userId: string): Promise<string[]> {
    const result = await runCassandra(() => this.client.execute(this.cql.findRoles, [userId], idempotent))
    return result.rows.map((row) => row.get('role') as string)
  }

  async findOrganisationIds(userId: string): Promise<string[]> {
    const result = await runCassandra(() => this.client.execute(this.cql.findOrganisations, [userId], idempotent))
    return result.rows.filter((row) => row.get('isdeleted') !== true).map((row) => row.get('organisationid') as string)
  }

  async eraseLookups(userId: string): Promise<{ lookups: number; externalIdentities: number }> {
    const [lookups, identities] = await Promise.all([
      runCassandra(() => this.client.execute(this.cql.findLookups, [userId], idempotent)),
      runCassandra(() => this.client.execute(this.cql.findExternalIdentities, [userId], idempotent)),
    ])
    await Promise.all([
      ...lookups.rows.map((row) => runCassandra(() => this.client.execute(this.cql.deleteLookup, [row.get('type'), row.get('value')], idempotent))),
      ...identities.rows.map((row) =>
        runCassandra(() => this.client.execute(this.cql.deleteExternalIdentity, [row.get('provider'), row.get('idtype'), row.get('externalid')], idempotent)),
      ),
    ])
    return { lookups: lookups.rowLength, externalIdentities: identities.rowLength }
  }

  async markDeleted(user: UserRecord, change: { requestedBy: string; at: Date }): Promise<MarkDeletedOutcome> {
    const params = [change.requestedBy, formatSunbirdTimestamp(change.at), ...scrubValues, user.id, user.status, user.isDeleted]
    // A lightweight transaction is not idempotent: the driver must not replay it on its own.
    const result = await runCassandra(() => this.client.execute(this.cql.markDeleted, params, { prepare: true }))
    if (result.wasApplied()) return { kind: 'deleted' }
    const row = result.first()
    // Not applied and no current values: the row is gone.
    if (!row || row.get('status') === undefined) return { kind: 'changed', current: undefined }
    const current: UserRecord = { ...user, status: row.get('status') ?? null, isDeleted: row.get('isdeleted') ?? null }
    if (current.status === 2 && current.isDeleted === true) return { kind: 'already-deleted' }
    return { kind: 'changed', current }
  }
}
