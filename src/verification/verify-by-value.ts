import type { Client } from 'cassandra-driver'
import type { DeletionRequest, PlanName, StepOutcome } from '../deletion/deletion-request.js'
import { keyId, keyedHash } from '../deletion/keyed-hash.js'
import type { UserStore } from '../deletion/ports.js'
import { pseudonymise } from '../deletion/receipt.js'
import { type VerificationRow, erasing, rows } from './verify-user-stores.js'

/** What the by-value scans read: the keyspace's lookup-style tables, whole, and the key configured now (DELETION_RECEIPT_HASH_KEY). */
export interface ByValueDeps {
  /** Only `execute`: the scan is the one statement this needs. */
  cassandra: Pick<Client, 'execute'>
  keyspace: string
  receiptKey: string
  /** Whether the user a user_lookup row names is there: a value another user holds now is theirs. */
  users: Pick<UserStore, 'readUserRow'>
}

/** Keyed hashes a step kept, and the id (keyId) of the key that made them; undefined: not known. */
export interface KeptHashes {
  keyId: string | undefined
  hashes: readonly string[]
  /** [plain hash, stored hash] of the contacts stored encrypted (StepOutcome.hashPairs); none on older outcomes. */
  pairs: readonly (readonly [string, string])[]
}

/**
 * The hashes a step's outcome kept, with the key that made them. An outcome recorded before the key
 * was kept with it says nothing; its request's receipt, made as old, tells the key when the subject
 * is the configured key's hash of the user id (the same run made both). Otherwise: not known.
 */
export function keptHashesOf(request: DeletionRequest, outcome: StepOutcome | undefined, receiptKey: string): KeptHashes {
  const hashes = outcome?.hashes ?? []
  if (outcome?.hashKeyId !== undefined) return { keyId: outcome.hashKeyId, hashes, pairs: outcome.hashPairs ?? [] }
  const receipt = request.receipt
  const legacyReceiptOfThisKey = receipt !== undefined && receipt.subjectKeyId === undefined && receipt.subject === pseudonymise(receiptKey, request.userId)
  return { keyId: legacyReceiptOfThisKey ? keyId(receiptKey) : undefined, hashes, pairs: [] }
}

type ByValueTable = 'otp' | 'rate_limit' | 'user_lookup'

/** One row of a lookup-style table whose value hashed to a kept hash: that hash, and the user the row names (user_lookup's userid; null elsewhere). */
interface MatchingRow {
  hash: string
  userId: string | null
}

/** Rows of a lookup-style table (keyed by a plain or stored value) whose value hashes to one of `hashes` under the configured key. */
async function rowsMatching(deps: ByValueDeps, table: ByValueTable, hashes: ReadonlySet<string>): Promise<MatchingRow[]> {
  const column = table === 'user_lookup' ? 'value' : 'key'
  const columns = table === 'user_lookup' ? 'value, userid' : column
  const matches: MatchingRow[] = []
  for await (const row of await deps.cassandra.execute(`SELECT ${columns} FROM ${deps.keyspace}.${table}`, [], { prepare: true, fetchSize: 1000 })) {
    const value = row.get(column) as string | null
    const hash = value ? keyedHash(deps.receiptKey, value) : undefined
    if (hash && hashes.has(hash)) matches.push({ hash, userId: table === 'user_lookup' ? ((row.get('userid') as string | null) ?? null) : null })
  }
  return matches
}

/**
 * The user_lookup rows that give a kept value to another user: one the deletion did not erase,
 * whose user row is there. Such a value was taken again after the deletion freed it (a new
 * account, or the person signing up again), so its rows are that user's, judged by that user's own
 * deletion if any, not residue of this one. A row naming no user, or one whose row is gone, leaves
 * the value held by nobody: still residue.
 */
async function heldByAnotherUser(deps: ByValueDeps, lookups: readonly MatchingRow[], erasedIds: ReadonlySet<string>): Promise<MatchingRow[]> {
  const there = new Map<string, boolean>()
  const held: MatchingRow[] = []
  for (const row of lookups) {
    if (!row.userId || erasedIds.has(row.userId)) continue
    if (!there.has(row.userId)) there.set(row.userId, (await deps.users.readUserRow(row.userId)) !== undefined)
    if (there.get(row.userId)) held.push(row)
  }
  return held
}

/**
 * The hashes of the values other users hold: those of their user_lookup rows, and the plain hash
 * paired with each (a contact stored encrypted: user_lookup holds the ciphertext, the code rows
 * are keyed by the plain value).
 */
function heldHashes(held: readonly MatchingRow[], pairs: readonly (readonly [string, string])[]): Set<string> {
  const hashes = new Set(held.map((row) => row.hash))
  for (const [plain, stored] of pairs) if (hashes.has(stored)) hashes.add(plain)
  return hashes
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
 *
 * A value freed by the deletion may be taken again. `erasedIds` are the users the deletion erased
 * (the person, and the managed users it covered): a user_lookup row naming anyone else who is
 * there, and an otp or rate_limit row (which names no user) of a value such a row gives them (as
 * stored, or encrypted there and paired with its plain hash), are that user's: counted apart, never
 * residue (heldByAnotherUser, heldHashes). No encryption key is needed: the step kept the pairs.
 */
export async function verifyByValue(deps: ByValueDeps, plan: PlanName, kept: readonly KeptHashes[], erasedIds: ReadonlySet<string>): Promise<VerificationRow[]> {
  const configured = keyId(deps.receiptKey)
  const withHashes = kept.filter((set) => set.hashes.length > 0)
  const scannable = withHashes.filter((set) => set.keyId === configured || set.keyId === undefined)
  const scanned = new Set(scannable.flatMap((set) => set.hashes))
  const pairs = scannable.flatMap((set) => set.pairs)
  const otherKeys = [...new Set(withHashes.flatMap((set) => (set.keyId !== undefined && set.keyId !== configured ? [set.keyId] : [])))]
  const unknownKey = withHashes.some((set) => set.keyId === undefined)
  const why: Pick<VerificationRow, 'found' | 'unchecked'> | undefined =
    otherKeys.length > 0
      ? { found: `cannot check: made with another key (key id ${otherKeys.join(', ')})`, unchecked: 'other key' }
      : unknownKey
        ? { found: 'cannot check: key not recorded', unchecked: 'key not recorded' }
        : undefined

  const matching = async (table: ByValueTable) => (scanned.size > 0 ? await rowsMatching(deps, table, scanned) : [])
  // user_lookup is scanned once, and only when its line is due or a code row needs its holder.
  let lookups: Promise<{ found: MatchingRow[]; held: MatchingRow[] }> | undefined
  const lookupRows = () => {
    lookups ??= matching('user_lookup').then(async (found) => ({ found, held: await heldByAnotherUser(deps, found, erasedIds) }))
    return lookups
  }

  const line = (table: ByValueTable, residue: number, others: number): VerificationRow => {
    const store = `cassandra.${table} (by value)`
    const theirs = others > 0 ? ` (${rows(others)} of another user)` : ''
    if (residue > 0) return { store, expected: '0 rows', found: `${rows(residue)}${theirs}`, residue: true }
    if (why) return { store, expected: '0 rows', ...why, residue: false }
    return { store, expected: '0 rows', found: withHashes.length > 0 ? `${rows(0)}${theirs}` : 'no hashes kept', residue: false }
  }
  const codes = async (table: 'otp' | 'rate_limit'): Promise<VerificationRow> => {
    const found = await matching(table)
    const theirs = found.length > 0 ? heldHashes((await lookupRows()).held, pairs) : new Set<string>()
    const others = found.filter((row) => theirs.has(row.hash)).length
    return line(table, found.length - others, others)
  }
  const lookupLine = async (): Promise<VerificationRow> => {
    const { found, held } = await lookupRows()
    return line('user_lookup', found.length - held.length, held.length)
  }
  const result = [await codes('otp'), await codes('rate_limit')]
  if (erasing(plan) && withHashes.length > 0) result.push(await lookupLine())
  return result
}
