import { plainExternalIdentity } from '../sunbird-decryption.js'
import { type DeletionStep, actionFor, stepOutcome } from './step.js'

const STORE = 'cassandra.usr_external_identity'

export const externalIdentities = {
  name: 'externalIdentities',
  store: STORE,
  why: 'links to external identity providers removed',
  plans: ['sunbird', 'hard'],
  kept: { action: 'kept', why: 'external identities stay reserved while the deletion can be cancelled' },
  async run({ deps, request, plan }) {
    return stepOutcome('done', 'deleted', deps.clock.now(), await deps.users.eraseExternalIdentities(request.userId), { plan })
  },
  async preview({ deps, userId, plan }) {
    return [{ store: STORE, action: actionFor(plan, { sunbird: 'delete', hard: 'delete' }), count: (await deps.users.readExternalIdentities(userId)).length }]
  },
  async exportData({ deps, userId }) {
    // The person's copy: a declared email or phone, which Sunbird stores encrypted, as the person gave it (with the key set).
    const identities = await deps.users.readExternalIdentities(userId)
    return { externalIdentities: identities.map((identity) => plainExternalIdentity(deps.decryptUserField, identity)) }
  },
} as const satisfies DeletionStep
