import type { Client } from 'cassandra-driver'
import { formatSunbirdTimestamp } from '../src/shared/sunbird-timestamp.js'
import { type TimedRun, timeEachDeletion } from './raw-delete-sequence.js'

/**
 * Baseline S: the Cassandra statements Sunbird's own deletion runs for one user
 * (../shared/reference/sunbird-user-delete.md §5.1–5.2), raw through cassandra-driver with the
 * service's client settings: read the requester's row (telemetry context), read the roles (role
 * restriction), read the user, delete the lookups by value (username, email, phone), find the
 * external identities by user id (secondary index) and delete each, then update the user row with
 * the columns of §5.2. No lightweight transaction, no request record, no audit, no outbox: what the
 * platform paid per deletion before this service.
 */
export async function sunbirdDeleteSequence(client: Client, keyspace: string, userId: string): Promise<void> {
  const ks = keyspace
  const options = { prepare: true, isIdempotent: true }
  const run = (cql: string, params: unknown[]) => client.execute(cql, params, options)
  // Util.initializeContext: the requester's row (a self-delete here, as in B).
  await run(`SELECT * FROM ${ks}.user WHERE id = ?`, [userId])
  await run(`SELECT role FROM ${ks}.user_roles WHERE userid = ?`, [userId])
  const user = (await run(`SELECT * FROM ${ks}.user WHERE id = ?`, [userId])).first()
  if (!user) throw new Error(`baseline S: user ${userId} is not seeded`)
  const lookups: [string, unknown][] = [
    ['username', user.get('username')],
    ['email', user.get('email')],
    ['phone', user.get('phone')],
  ]
  await Promise.all(lookups.filter(([, value]) => typeof value === 'string' && value !== '').map(([type, value]) => run(`DELETE FROM ${ks}.user_lookup WHERE type = ? AND value = ?`, [type, value])))
  const identities = (await run(`SELECT provider, idtype, externalid FROM ${ks}.usr_external_identity WHERE userid = ?`, [userId])).rows
  await Promise.all(
    identities.map((row) => run(`DELETE FROM ${ks}.usr_external_identity WHERE provider = ? AND idtype = ? AND externalid = ?`, [row.get('provider'), row.get('idtype'), row.get('externalid')])),
  )
  await run(
    `UPDATE ${ks}.user SET status = ?, isdeleted = ?, email = ?, phone = ?, firstname = ?, lastname = ?, maskedemail = ?, maskedphone = ?, prevusedemail = ?, prevusedphone = ?, recoveryemail = ?, recoveryphone = ?, profilelocation = ?, updatedby = ?, updateddate = ?, userid = ?, flagsvalue = ? WHERE id = ?`,
    [2, true, '', '', '', '', '', '', '', '', '', '', '[]', userId, formatSunbirdTimestamp(new Date()), userId, 0, userId],
  )
}

/** Deletes every user once the Sunbird way, `concurrency` at a time, timing each deletion (as runBaselineB). */
export async function runBaselineS(client: Client, keyspace: string, userIds: readonly string[], concurrency: number): Promise<TimedRun> {
  return timeEachDeletion(userIds, concurrency, (userId) => sunbirdDeleteSequence(client, keyspace, userId))
}
