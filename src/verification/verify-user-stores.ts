import type { PlanName } from '../deletion/deletion-request.js'
import type { PersonalDataTables, PersonalTable, UserCache, UserSearchIndex, UserStore } from '../deletion/ports.js'
import { countAdderNamed } from '../deletion/steps/search-added-by-name.js'
import { SEARCH } from '../deletion/steps/step.js'
import { searchTombstone } from '../deletion/steps/search-user.js'
import { SCRUBBED_USER_COLUMNS } from '../store/cassandra-user-store.js'

/**
 * Why a store could not be checked, each with its own advice (format-verification.ts): by value,
 * hashes made with another key, or with a key the request did not record; a store the deletion
 * reached that this process is not configured with; an ERASURE_EXTRA_TARGETS table (or a column
 * it names) that is not there.
 */
export type UncheckedReason = 'other key' | 'key not recorded' | 'search not configured' | 'cache not configured' | 'table not found' | 'column not found'

/** One line of the proof: a store, what the request's plan leaves there, what is found now, and whether that is residue. Never a value. */
export interface VerificationRow {
  store: string
  expected: string
  found: string
  residue: boolean
  /** Set when the store could not be checked, to why (UncheckedReason); `found` says it in the table. */
  unchecked?: UncheckedReason
}

/** The ports that find a user's data by their id. */
export interface UserStoresDeps {
  users: Pick<UserStore, 'readUserRow' | 'readLookups' | 'readExternalIdentities' | 'readOrganisations' | 'readRoles'>
  tables: PersonalDataTables
  search?: UserSearchIndex | undefined
  cache?: UserCache | undefined
}

/** The optional stores the deletion was run with (its steps recorded an outcome there), so that one this process is not configured with cannot pass unchecked. */
export interface StoresReached {
  search: boolean
  cache: boolean
}

const ADDER_NAMED = SEARCH.steps.searchAddedByName
/** The expected column of that line for a deletion that did not run its step: not judged (clean it by hand, docs/integrating.md). */
const NOT_RUN = 'not checked (deletion did not run this step)'

export const erasing = (plan: PlanName) => plan !== 'soft'
export const rows = (n: number) => `${n} row${n === 1 ? '' : 's'}`

/**
 * Re-checks, by id, every configured store of one user a deletion of `plan` reached: the deleted
 * person, or one of their managed users (erased by the same steps under the same plan, so judged
 * the same way). What the plan erases must be gone; what it keeps is reported, not judged. The
 * ERASURE_EXTRA_TARGETS tables are checked on their own (verify-extra-targets.ts).
 * `adderNamesJudged` is false for a deletion that finished before the searchAddedByName step
 * existed: it never rewrote other users' memberships (its receipt says so), so their documents
 * naming the person are counted and shown, not judged.
 */
export async function verifyUserStores(deps: UserStoresDeps, userId: string, plan: PlanName, reached: StoresReached, adderNamesJudged = true): Promise<VerificationRow[]> {
  const result: VerificationRow[] = []
  const check = (store: string, expected: string, found: string, residue: boolean) => result.push({ store, expected, found, residue })
  /** A store not configured here: fine when the deletion did not reach it either, or when the plan keeps it (shown, not judged); else it cannot be checked from this process. */
  const notConfigured = (store: string, wasReached: boolean, kept: boolean, unchecked: 'search not configured' | 'cache not configured') => {
    if (!wasReached) check(store, 'not configured', 'not configured', false)
    else if (kept) check(store, 'kept', 'not configured here', false)
    else result.push({ store, expected: 'checked', found: 'not configured here, though the deletion reached it', residue: false, unchecked })
  }

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

  // Sunbird's deletion marks the memberships left (the organisation history keeps ids); a hard one removes them, and the roles.
  const memberships = await deps.users.readOrganisations(userId)
  if (plan === 'hard') check('cassandra.user_organisation', '0 rows', rows(memberships.length), memberships.length > 0)
  else {
    const staying = memberships.filter((membership) => membership.isdeleted !== true || !membership.orgleftdate).length
    check('cassandra.user_organisation', plan === 'sunbird' ? 'every row marked left' : 'kept', `${staying} of ${rows(memberships.length)} not marked left`, plan === 'sunbird' && staying > 0)
  }
  const roleRows = (await deps.users.readRoles(userId)).length
  check('cassandra.user_roles', plan === 'hard' ? '0 rows' : 'kept', rows(roleRows), plan === 'hard' && roleRows > 0)

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

  if (!deps.search) {
    notConfigured('search.user_alias', reached.search, false, 'search not configured')
    notConfigured('search.usernotes', reached.search, !erasing(plan), 'search not configured')
    if (erasing(plan) && !adderNamesJudged) check(ADDER_NAMED, NOT_RUN, 'not configured here', false)
    else notConfigured(ADDER_NAMED, reached.search, !erasing(plan), 'search not configured')
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
    // Other users' memberships the person added them to, still carrying the person's name.
    const adderNamed = await countAdderNamed(deps.search, userId)
    if (erasing(plan) && !adderNamesJudged) check(ADDER_NAMED, NOT_RUN, `${adderNamed} document(s)`, false)
    else check(ADDER_NAMED, erasing(plan) ? '0 documents' : 'kept', `${adderNamed} document(s)`, erasing(plan) && adderNamed > 0)
  }
  if (!deps.cache) notConfigured('redis.user', reached.cache, !erasing(plan), 'cache not configured')
  else {
    const cached = await deps.cache.hasUser(userId)
    // A soft deletion removes the key but keeps the profile, from which Sunbird's cache fills again: shown, not judged.
    check('redis.user', erasing(plan) ? 'no key' : 'removed (refills from the kept profile)', cached ? 'key' : 'no key', erasing(plan) && cached)
  }
  return result
}
