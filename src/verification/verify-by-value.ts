import type { Client } from 'cassandra-driver'
import type { PlanName } from '../deletion/deletion-request.js'
import { keyedHash } from '../deletion/keyed-hash.js'
import { type VerificationRow, erasing, rows } from './verify-user-stores.js'

/** What the by-value scans read: the keyspace's lookup-style tables, whole, and the key the request's hashes were made with. */
export interface ByValueDeps {
  /** Only `execute`: the scan is the one statement this needs. */
  cassandra: Pick<Client, 'execute'>
  keyspace: string
  receiptKey: string
}

/** Rows of a lookup-style table (keyed by a plain or stored value) whose value hashes to one of the request's hashes. */
async function rowsMatching(deps: ByValueDeps, table: 'otp' | 'rate_limit' | 'user_lookup', column: 'key' | 'value', hashes: ReadonlySet<string>): Promise<number> {
  let matches = 0
  for await (const row of await deps.cassandra.execute(`SELECT ${column} FROM ${deps.keyspace}.${table}`, [], { prepare: true, fetchSize: 1000 })) {
    const value = row.get(column) as string | null
    if (value && hashes.has(keyedHash(deps.receiptKey, value))) matches++
  }
  return matches
}

/**
 * Re-checks the stores keyed by a plain value (otp, rate_limit, and user_lookup when the plan
 * erases it) through keyed hashes of the contacts a deletion looked them up by: the values
 * themselves were never kept. No hashes, no scan.
 */
export async function verifyByValue(deps: ByValueDeps, plan: PlanName, hashes: ReadonlySet<string>): Promise<VerificationRow[]> {
  const result: VerificationRow[] = []
  for (const [table, column] of [
    ['otp', 'key'],
    ['rate_limit', 'key'],
  ] as const) {
    const count = hashes.size > 0 ? await rowsMatching(deps, table, column, hashes) : 0
    result.push({ store: `cassandra.${table} (by value)`, expected: '0 rows', found: hashes.size > 0 ? rows(count) : 'no hashes kept', residue: count > 0 })
  }
  if (erasing(plan) && hashes.size > 0) {
    const count = await rowsMatching(deps, 'user_lookup', 'value', hashes)
    result.push({ store: 'cassandra.user_lookup (by value)', expected: '0 rows', found: rows(count), residue: count > 0 })
  }
  return result
}
