import type { Client } from 'cassandra-driver'
import type { DeletionRequest, PlanName, StepOutcome } from '../deletion/deletion-request.js'
import { keyId, keyedHash } from '../deletion/keyed-hash.js'
import { pseudonymise } from '../deletion/receipt.js'
import { type VerificationRow, erasing, rows } from './verify-user-stores.js'

/** What the by-value scans read: the keyspace's lookup-style tables, whole, and the key configured now (DELETION_RECEIPT_HASH_KEY). */
export interface ByValueDeps {
  /** Only `execute`: the scan is the one statement this needs. */
  cassandra: Pick<Client, 'execute'>
  keyspace: string
  receiptKey: string
}

/** Keyed hashes a step kept, and the id (keyId) of the key that made them; undefined: not known. */
export interface KeptHashes {
  keyId: string | undefined
  hashes: readonly string[]
}

/**
 * The hashes a step's outcome kept, with the key that made them. An outcome recorded before the key
 * was kept with it says nothing; its request's receipt, made as old, tells the key when the subject
 * is the configured key's hash of the user id (the same run made both). Otherwise: not known.
 */
export function keptHashesOf(request: DeletionRequest, outcome: StepOutcome | undefined, receiptKey: string): KeptHashes {
  const hashes = outcome?.hashes ?? []
  if (outcome?.hashKeyId !== undefined) return { keyId: outcome.hashKeyId, hashes }
  const receipt = request.receipt
  const legacyReceiptOfThisKey = receipt !== undefined && receipt.subjectKeyId === undefined && receipt.subject === pseudonymise(receiptKey, request.userId)
  return { keyId: legacyReceiptOfThisKey ? keyId(receiptKey) : undefined, hashes }
}

/** Rows of a lookup-style table (keyed by a plain or stored value) whose value hashes to one of `hashes` under the configured key. */
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
 *
 * A hash is compared only under the key that made it: the configured key's hashes are scanned for;
 * hashes of another key (DELETION_RECEIPT_HASH_KEY changed since) could match nothing, so a store
 * they alone would speak for is "cannot check", never "0 rows". Hashes whose key is not known are
 * scanned for under the configured key: a match is residue; no match proves nothing, "cannot check".
 */
export async function verifyByValue(deps: ByValueDeps, plan: PlanName, kept: readonly KeptHashes[]): Promise<VerificationRow[]> {
  const configured = keyId(deps.receiptKey)
  const withHashes = kept.filter((set) => set.hashes.length > 0)
  const scanned = new Set(withHashes.filter((set) => set.keyId === configured || set.keyId === undefined).flatMap((set) => set.hashes))
  const otherKeys = [...new Set(withHashes.flatMap((set) => (set.keyId !== undefined && set.keyId !== configured ? [set.keyId] : [])))]
  const unknownKey = withHashes.some((set) => set.keyId === undefined)
  const why: Pick<VerificationRow, 'found' | 'unchecked'> | undefined =
    otherKeys.length > 0
      ? { found: `cannot check: made with another key (key id ${otherKeys.join(', ')})`, unchecked: 'other key' }
      : unknownKey
        ? { found: 'cannot check: key not recorded', unchecked: 'key not recorded' }
        : undefined

  const check = async (table: 'otp' | 'rate_limit' | 'user_lookup', column: 'key' | 'value'): Promise<VerificationRow> => {
    const count = scanned.size > 0 ? await rowsMatching(deps, table, column, scanned) : 0
    const store = `cassandra.${table} (by value)`
    if (count > 0) return { store, expected: '0 rows', found: rows(count), residue: true }
    if (why) return { store, expected: '0 rows', ...why, residue: false }
    return { store, expected: '0 rows', found: withHashes.length > 0 ? rows(0) : 'no hashes kept', residue: false }
  }
  const result = [await check('otp', 'key'), await check('rate_limit', 'key')]
  if (erasing(plan) && withHashes.length > 0) result.push(await check('user_lookup', 'value'))
  return result
}
