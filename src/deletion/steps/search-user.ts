import type { RestoreFacts, StepOutcome } from '../deletion-request.js'
import type { JsonRow, JsonValue, SearchUserFlags, UserSearchIndex } from '../ports.js'
import { plainUserFields } from '../sunbird-decryption.js'
import { ABSENT_ON_RESUME } from './absent-on-resume.js'
import {
  type DeletionStep,
  LEFT_AS_IT_WAS,
  NOT_CONFIGURED,
  type RecordedOutcomes,
  type StepContext,
  SEARCH,
  actionFor,
  owedNotConfiguredHere,
  owedWhenUnavailable,
  stepOutcome,
  withoutStore,
} from './step.js'

const STORE = SEARCH.steps.searchUser

const organisationIdsOf = (document: JsonRow): string[] =>
  (Array.isArray(document.organisations) ? document.organisations : [])
    .map((organisation) => (organisation && typeof organisation === 'object' && !Array.isArray(organisation) ? organisation.organisationId : null))
    .filter((id): id is string => typeof id === 'string')

/**
 * What Sunbird's deletion leaves of the search document: ids and flags only. Sunbird patches the
 * document and leaves username, dob, organisations and framework searchable; this replaces it whole.
 */
export function searchTombstone(userId: string, document: JsonRow): JsonRow {
  const organisations: JsonValue[] = organisationIdsOf(document).map((organisationId) => ({ organisationId }))
  return {
    id: userId,
    userId,
    identifier: userId,
    status: 2,
    isDeleted: true,
    isBlocked: true,
    rootOrgId: typeof document.rootOrgId === 'string' ? document.rootOrgId : null,
    organisations,
  }
}

const flagsOf = (facts: Record<string, unknown>): SearchUserFlags => ({
  status: typeof facts.status === 'number' ? facts.status : null,
  isDeleted: typeof facts.isDeleted === 'boolean' ? facts.isDeleted : null,
  isBlocked: typeof facts.isBlocked === 'boolean' ? facts.isBlocked : null,
})

/**
 * A soft deletion flags the document, keeping its flags as they were for a cancel. Those are written
 * before the flags change (recordNow), as the Keycloak step keeps its intent: an update that lands
 * but whose answer is lost, or a crash right after it, would otherwise leave a run again reading the
 * flagged document as "before", or a cancel finding nothing to put back (the user hidden from search
 * for good). A run again uses the flags an earlier run kept, and reads nothing: the flag is one update.
 */
async function flagDeleted(context: StepContext, search: UserSearchIndex): Promise<StepOutcome> {
  const { deps, request, plan, recordNow } = context
  const earlier = request.steps.searchUser
  let prior: RestoreFacts | undefined = earlier?.plan === 'soft' ? earlier.restore : undefined
  if (!prior) {
    let document: JsonRow | undefined
    try {
      document = await search.readUser(request.userId)
    } catch (err) {
      return owedWhenUnavailable(deps, 'searchUser', err, plan, request.id)
    }
    if (!document) return stepOutcome('done', 'absent', deps.clock.now(), 0, { plan })
    prior = { ...flagsOf(document) }
    // Cassandra failing here stops the run, as at any checkpoint: nothing was flagged yet.
    await recordNow?.(stepOutcome('pending', 'flagging', deps.clock.now(), undefined, { plan, restore: prior }))
  }
  try {
    // Gone since it was read: nothing to flag, nothing to put back.
    if (!(await search.flagUserDeleted(request.userId))) return stepOutcome('done', 'absent', deps.clock.now(), 0, { plan })
    return stepOutcome('done', 'flagged', deps.clock.now(), 1, { plan, restore: prior })
  } catch (err) {
    // Keep what a cancel needs: the update may have landed.
    return { ...owedWhenUnavailable(deps, 'searchUser', err, plan, request.id), restore: prior }
  }
}

/**
 * The user document Sunbird's user search serves (alias user_alias, _id = user id): Sunbird's
 * deletion replaces it by a tombstone, a soft one sets its status flags (a cancel puts them back),
 * a hard one deletes it.
 */
export const searchUser = {
  name: 'searchUser',
  store: STORE,
  why: "the user search document: replaced by ids and flags only (soft: flagged deleted; hard: removed), so no search returns it; other users' documents that name the person as who added them to an organisation (organisations[].addedByName) have their own line (search.user_alias (addedByName))",
  plans: ['sunbird', 'soft', 'hard'],
  dependency: SEARCH.dependency,
  async run(context): Promise<StepOutcome> {
    const { deps, request, plan, resumed = false } = context
    const search = deps.search
    if (!search) {
      const owed = withoutStore(context, 'searchUser', SEARCH)
      // A flag an earlier attempt may have set (its facts kept before it: flagDeleted) is still owed back by a cancel: its facts stay.
      const earlier: StepOutcome | undefined = (request.steps as RecordedOutcomes).searchUser
      return plan === 'soft' && earlier?.plan === 'soft' && earlier.restore ? { ...owed, restore: earlier.restore } : owed
    }
    const userId = request.userId
    if (plan === 'soft') return flagDeleted(context, search)
    try {
      if (plan === 'hard') {
        // No document: `absent`, as Sunbird's deletion says it; resumed, the run cut short may have deleted it (absent-on-resume.ts).
        const deleted = await search.deleteUser(userId)
        return stepOutcome('done', deleted > 0 ? 'deleted' : resumed ? ABSENT_ON_RESUME : 'absent', deps.clock.now(), deleted, { plan })
      }
      const document = await search.readUser(userId)
      if (!document) return stepOutcome('done', 'absent', deps.clock.now(), 0, { plan })
      const replaced = await search.replaceUser(userId, searchTombstone(userId, document))
      return stepOutcome('done', replaced === 'replaced' ? 'tombstoned' : 'absent', deps.clock.now(), replaced === 'replaced' ? 1 : 0, { plan })
    } catch (err) {
      return owedWhenUnavailable(deps, 'searchUser', err, plan, request.id)
    }
  },
  async restore({ deps, request, outcome }) {
    const search = deps.search
    if (!outcome.restore) return stepOutcome('done', LEFT_AS_IT_WAS, deps.clock.now(), undefined, { plan: 'soft' })
    if (!search) {
      // Flagged by an instance that had the engine: the flags are owed back, by one that has it (the cancel waits, as for Keycloak).
      const why = `${SEARCH.setting} is not set in this process and the document's flags are still to be restored: left pending for an instance that has it`
      return { ...owedNotConfiguredHere(deps, 'searchUser', why, SEARCH.dependency, 'soft', request.id), restore: outcome.restore }
    }
    try {
      const restored = await search.restoreUserFlags(request.userId, flagsOf(outcome.restore))
      return stepOutcome('done', restored ? 'restored' : 'absent', deps.clock.now(), undefined, { plan: 'soft' })
    } catch (err) {
      // Keep what the restore needs for the next attempt.
      return { ...owedWhenUnavailable(deps, 'searchUser', err, 'soft', request.id), restore: outcome.restore }
    }
  },
  async preview({ deps, userId, plan }) {
    if (!deps.search) return [{ store: STORE, action: NOT_CONFIGURED, count: 0 }]
    try {
      const found = (await deps.search.readUser(userId)) !== undefined
      return [{ store: STORE, action: actionFor(plan, { sunbird: 'tombstone', soft: 'flag', hard: 'delete' }), count: found ? 1 : 0 }]
    } catch (err) {
      return [{ store: STORE, action: owedWhenUnavailable(deps, 'searchUser', err, plan).action, count: 0 }]
    }
  },
  async exportData({ deps, userId }) {
    // The person's copy: the fields Sunbird stores encrypted (the row's, in the document) as the person gave them (with the key set).
    const document = deps.search ? await deps.search.readUser(userId) : undefined
    return { searchDocument: document ? plainUserFields(deps.decryptUserField, document) : null }
  },
} as const satisfies DeletionStep
