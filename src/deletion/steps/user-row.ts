import { plainUserFields } from '../sunbird-decryption.js'
import { type DeletionStep, actionFor, stepOutcome } from './step.js'

const STORE = 'cassandra.user (profile)'

/** Sunbird's deletion blanks the personal columns; a hard deletion leaves a tombstone (ids, status, dates) and nulls every other column. */
export const userRow = {
  name: 'userRow',
  store: STORE,
  why: 'every personal column blanked; the row stays as a tombstone because other Sunbird data refers to its id',
  plans: ['sunbird', 'hard'],
  // The lookups and short-lived codes were found from the contacts this step blanks.
  checkpointBefore: true,
  kept: { action: 'kept', why: 'profile kept while the deletion can be cancelled; the user is locked out' },
  async run({ deps, request, plan }) {
    const change = { requestedBy: request.requestedBy, at: deps.clock.now() }
    if (plan === 'hard') {
      await deps.users.reduceToTombstone(request.userId, change)
      return stepOutcome('done', 'tombstoned', deps.clock.now(), undefined, { plan })
    }
    await deps.users.scrubProfile(request.userId, change)
    return stepOutcome('done', 'scrubbed', deps.clock.now())
  },
  async preview({ plan }) {
    return [{ store: STORE, action: actionFor(plan, { sunbird: 'scrub', hard: 'tombstone' }), count: 1 }]
  },
  async exportData({ deps, userId }) {
    // The person's copy: the columns Sunbird stores encrypted as the person gave them (with the key set).
    const row = await deps.users.readUserRow(userId)
    return { row: row ? plainUserFields(deps.decryptUserField, row) : null }
  },
} as const satisfies DeletionStep
