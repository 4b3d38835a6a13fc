import { plainLookup } from '../sunbird-decryption.js'
import { type DeletionStep, type PlanEntry, actionFor, stepOutcome } from './step.js'

const STORE = 'cassandra.user_lookup'

export const lookups = {
  name: 'lookups',
  store: STORE,
  why: 'login and search keys (username, email, phone, external ids) removed',
  plans: ['sunbird', 'hard'],
  kept: { action: 'kept', why: 'identifiers stay reserved while the deletion can be cancelled: nobody else can register them' },
  async run({ deps, request, plan }) {
    return stepOutcome('done', 'deleted', deps.clock.now(), await deps.users.eraseLookups(request.userId), { plan })
  },
  async preview({ deps, userId, plan }) {
    const action = actionFor(plan, { sunbird: 'delete', hard: 'delete' })
    const byType = new Map<string, number>()
    for (const { type } of await deps.users.readLookups(userId)) byType.set(type, (byType.get(type) ?? 0) + 1)
    if (byType.size === 0) return [{ store: STORE, action, count: 0 }]
    return [...byType].sort(([a], [b]) => a.localeCompare(b)).map(([type, count]): PlanEntry => ({ store: `${STORE} (${type})`, action, count }))
  },
  async exportData({ deps, userId }) {
    // The person's copy: the values Sunbird stores encrypted as the person gave them (with the key set).
    return { lookups: (await deps.users.readLookups(userId)).map((lookup) => plainLookup(deps.decryptUserField, lookup)) }
  },
} as const satisfies DeletionStep
