import type { Client } from 'cassandra-driver'
import type { SeedUser } from '../../scripts/lib/seed-users.js'
import { TEST_KEYSPACE } from './test-env.js'

/** Everything Cassandra still holds about a user, read straight from the tables. */
export async function readUserState(db: Client, userId: string, ks = TEST_KEYSPACE) {
  const [user, lookups, identities, roles] = await Promise.all([
    db.execute(`SELECT * FROM ${ks}.user WHERE id = ?`, [userId], { prepare: true }),
    db.execute(`SELECT type, value FROM ${ks}.user_lookup WHERE userid = ?`, [userId], { prepare: true }),
    db.execute(`SELECT * FROM ${ks}.usr_external_identity WHERE userid = ?`, [userId], { prepare: true }),
    db.execute(`SELECT role FROM ${ks}.user_roles WHERE userid = ?`, [userId], { prepare: true }),
  ])
  return { user: user.first(), lookups: lookups.rows, identities: identities.rows, roles: roles.rows.map((r) => r.get('role') as string) }
}

/** The personal values seedUser wrote for this user, to look for after deletion. */
export function personalValues(user: SeedUser, row: Record<string, unknown>): string[] {
  const columns = [
    'username',
    'email',
    'phone',
    'firstname',
    'lastname',
    'dob',
    'maskedemail',
    'maskedphone',
    'prevusedemail',
    'prevusedphone',
    'recoveryemail',
    'recoveryphone',
    'loginid',
    'profiledetails',
  ]
  return columns
    .map((c) => row[c])
    .filter((v): v is string => typeof v === 'string' && v !== '')
    .concat(user.externalIds?.map((e) => e.externalId) ?? [])
}

/** The columns of a user row that hold something: not null, not blank, not false, not Sunbird's empty location list. */
export function columnsHoldingAValue(row: { keys(): string[]; get(column: string): unknown } | undefined | null): string[] {
  if (!row) return []
  return row
    .keys()
    .filter((column) => {
      const value = row.get(column)
      return value !== null && value !== undefined && value !== '' && value !== false && value !== '[]'
    })
    .sort()
}
