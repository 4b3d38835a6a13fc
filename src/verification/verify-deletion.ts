import type { Client } from 'cassandra-driver'
import type { DeletionRequest, PlanName } from '../deletion/deletion-request.js'
import { keyedHash } from '../deletion/keyed-hash.js'
import type { DeletionRequestStore, ExtraTarget, PersonalDataTables, PersonalTable, UserCache, UserSearchIndex, UserStore } from '../deletion/ports.js'
import { extraTargetStore } from '../deletion/steps/extra-targets.js'
import { searchTombstone } from '../deletion/steps/search-user.js'
import { SCRUBBED_USER_COLUMNS } from '../store/cassandra-user-store.js'

/** One line of the proof: a store, what the request's plan leaves there, what is found now, and whether that is residue. Never a value. */
export interface VerificationRow {
  store: string
  expected: string
  found: string
  residue: boolean
}

export interface VerifyDeps {
  requests: Pick<DeletionRequestStore, 'get'>
  users: Pick<UserStore, 'readUserRow' | 'readLookups' | 'readExternalIdentities'>
  tables: PersonalDataTables
  search?: UserSearchIndex | undefined
  cache?: UserCache | undefined
  extraTargets: readonly ExtraTarget[]
  /** For the by-value scans of the lookup-style tables. */
  cassandra: Client
  keyspace: string
  receiptKey: string
}

const erasing = (plan: PlanName) => plan !== 'soft'
const rows = (n: number) => `${n} row${n === 1 ? '' : 's'}`

/** Rows of a lookup-style table (keyed by a plain or stored value) whose value hashes to one of the request's hashes. */
async function rowsMatching(deps: VerifyDeps, table: 'otp' | 'rate_limit' | 'user_lookup', column: 'key' | 'value', hashes: ReadonlySet<string>): Promise<number> {
  let matches = 0
  for await (const row of await deps.cassandra.execute(`SELECT ${column} FROM ${deps.keyspace}.${table}`, [], { prepare: true, fetchSize: 1000 })) {
    const value = row.get(column) as string | null
    if (value && hashes.has(keyedHash(deps.receiptKey, value))) matches++
  }
  return matches
}

/**
 * Re-checks every configured store for the person of a deletion request: by id, and by value for
 * the stores keyed by a plain value (otp, rate_limit, user_lookup), through the keyed hashes the
 * request kept. What the request's plan erases must be gone; what it keeps is reported, not judged.
 */
export async function verifyDeletion(deps: VerifyDeps, requestId: string): Promise<{ request: DeletionRequest; rows: VerificationRow[] } | undefined> {
  const request = await deps.requests.get(requestId)
  if (!request) return undefined
  const userId = request.userId
  const plan = request.plan
  const result: VerificationRow[] = []
  const check = (store: string, expected: string, found: string, residue: boolean) => result.push({ store, expected, found, residue })

  const row = await deps.users.readUserRow(userId)
  const personal = Object.keys(SCRUBBED_USER_COLUMNS).filter((column) => {
    const value = row?.[column]
    return value !== null && value !== undefined && value !== '' && value !== false && value !== '[]'
  })
  check('cassandra.user (profile)', erasing(plan) ? 'no personal column' : 'kept', `${personal.length} personal column(s) set`, erasing(plan) && personal.length > 0)
  const lookups = (await deps.users.readLookups(userId)).length
  check('cassandra.user_lookup', erasing(plan) ? '0 rows' : 'kept', rows(lookups), erasing(plan) && lookups > 0)
  const identities = (await deps.users.readExternalIdentities(userId)).length
  check('cassandra.usr_external_identity', erasing(plan) ? '0 rows' : 'kept', rows(identities), erasing(plan) && identities > 0)

  const erasedRows: [PersonalTable, boolean][] = [
    ['user_declarations', erasing(plan)],
    ['user_consent', plan === 'hard'],
    ['user_notes', erasing(plan)],
    ['user_feed', erasing(plan)],
    ['user_cert', erasing(plan)],
    ['address', erasing(plan)],
  ]
  for (const [table, erased] of erasedRows) {
    const count = (await deps.tables.readRows(table, userId)).length
    check(`cassandra.${table}`, erased ? '0 rows' : 'kept', rows(count), erased && count > 0)
  }
  const shadow = await deps.tables.readRows('shadow_user', userId)
  const named = shadow.filter((r) => [r.name, r.email, r.phone].some((value) => value !== null && value !== undefined && value !== '')).length
  if (plan === 'hard') check('cassandra.shadow_user', '0 rows', rows(shadow.length), shadow.length > 0)
  else check('cassandra.shadow_user', plan === 'sunbird' ? 'name, email, phone blank' : 'kept', `${rows(named)} with name, email or phone`, plan === 'sunbird' && named > 0)

  // By value: the keyed hashes of the contacts the request looked codes up by.
  const hashes = new Set([...(request.steps.otp?.hashes ?? []), ...(request.steps.rateLimit?.hashes ?? [])])
  for (const [table, column] of [
    ['otp', 'key'],
    ['rate_limit', 'key'],
  ] as const) {
    const count = hashes.size > 0 ? await rowsMatching(deps, table, column, hashes) : 0
    check(`cassandra.${table} (by value)`, '0 rows', hashes.size > 0 ? rows(count) : 'no hashes kept', count > 0)
  }
  if (erasing(plan) && hashes.size > 0) {
    const count = await rowsMatching(deps, 'user_lookup', 'value', hashes)
    check('cassandra.user_lookup (by value)', '0 rows', rows(count), count > 0)
  }

  if (!deps.search) {
    check('search.user_alias', 'not configured', 'not configured', false)
    check('search.usernotes', 'not configured', 'not configured', false)
  } else {
    const document = await deps.search.readUser(userId)
    if (plan === 'hard') check('search.user_alias', 'no document', document ? 'document' : 'no document', document !== undefined)
    else if (plan === 'sunbird') {
      const allowed = new Set(Object.keys(searchTombstone(userId, {})))
      const extra = document ? Object.keys(document).filter((field) => !allowed.has(field)) : []
      check('search.user_alias', 'tombstone (ids and flags only)', document ? `${extra.length} field(s) beyond the tombstone` : 'no document', extra.length > 0)
    } else {
      const flagged = document ? document.status === 2 && document.isDeleted === true : true
      check('search.user_alias', 'flagged deleted (kept)', document ? (flagged ? 'flagged' : 'not flagged') : 'no document', !flagged)
    }
    const notes = (await deps.search.readNotes(userId)).length
    check('search.usernotes', erasing(plan) ? '0 documents' : 'kept', `${notes} document(s)`, erasing(plan) && notes > 0)
  }
  if (!deps.cache) check('redis.user', 'not configured', 'not configured', false)
  else {
    const cached = (await deps.cache.readUser(userId)) !== undefined
    check('redis.user', 'no key', cached ? 'key' : 'no key', cached)
  }
  for (const target of deps.extraTargets) {
    const count = await deps.tables.countExtra(target, userId)
    // A soft deletion keeps them (a cancel may still bring the person back); they go when it is erased.
    if (!erasing(plan)) check(extraTargetStore(target), 'kept', count === undefined ? 'table not found' : rows(count), false)
    else if (count === undefined) check(extraTargetStore(target), target.action === 'delete' ? '0 rows' : 'blanked', 'table not found', false)
    else if (target.action === 'delete') check(extraTargetStore(target), '0 rows', rows(count), count > 0)
    else check(extraTargetStore(target), 'blanked', `${rows(count)} (columns not re-read)`, false)
  }
  return { request, rows: result }
}

/** The per-store table, aligned for a terminal. */
export function formatVerification(rowsToPrint: readonly VerificationRow[]): string {
  const header: VerificationRow & { result: string } = { store: 'store', expected: 'expected', found: 'found', residue: false, result: 'result' }
  const lines = [header, ...rowsToPrint.map((r) => ({ ...r, result: r.residue ? 'RESIDUE' : 'ok' }))]
  const width = (key: 'store' | 'expected' | 'found') => Math.max(...lines.map((line) => line[key].length))
  const [ws, we, wf] = [width('store'), width('expected'), width('found')]
  return lines.map((line) => `${line.store.padEnd(ws)}  ${line.expected.padEnd(we)}  ${line.found.padEnd(wf)}  ${line.result}`).join('\n')
}
