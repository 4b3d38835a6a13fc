import type { JsonValue } from '../ports.js'
import { plainUserFields } from '../sunbird-decryption.js'
import { CACHE, type DeletionStep, NOT_CONFIGURED, owedWhenUnavailable, stepOutcome, withoutStore } from './step.js'

const STORE = CACHE.steps.cacheUser

/** Sunbird's user cache (Redis DB 12, user:<id>): a copy, removed in every mode and never brought back (the cache fills again from the profile). */
export const cacheUser = {
  name: 'cacheUser',
  store: STORE,
  why: 'the cached copy of the profile (names, contacts, location, organisation) removed; a cache, not restored on cancel',
  plans: ['sunbird', 'soft', 'hard'],
  dependency: CACHE.dependency,
  async run(context) {
    const { deps, request, plan } = context
    if (!deps.cache) return withoutStore(context, 'cacheUser', CACHE)
    try {
      const removed = await deps.cache.deleteUser(request.userId)
      // A fact for the owed-run count (owed-retry.ts): a managed user's key removed in this run, while another's is owed, is progress.
      if (removed > 0) context.progressed?.add('cacheUser')
      return stepOutcome('done', 'deleted', deps.clock.now(), removed, { plan })
    } catch (err) {
      return owedWhenUnavailable(deps, 'cacheUser', err, plan, request.id)
    }
  },
  async preview({ deps, userId }) {
    if (!deps.cache) return [{ store: STORE, action: NOT_CONFIGURED, count: 0 }]
    try {
      return [{ store: STORE, action: 'delete', count: (await deps.cache.hasUser(userId)) ? 1 : 0 }]
    } catch (err) {
      return [{ store: STORE, action: owedWhenUnavailable(deps, 'cacheUser', err, 'soft').action, count: 0 }]
    }
  },
  async exportData({ deps, userId }): Promise<Record<string, JsonValue>> {
    const held = deps.cache ? await deps.cache.readUser(userId) : undefined
    // A key of another type than Sunbird's hash is shown as it is held: the person sees everything kept about them.
    if (held?.kind === 'other') return { cache: null, cacheValue: { type: held.type, value: held.value } }
    // One too large to answer is named with its type and size, so the person (or an operator) knows it is there and how large.
    if (held?.kind === 'tooLarge') return { cache: null, cacheValue: { type: held.type, value: null, tooLarge: { ...held.size, maxBytes: held.maxBytes } } }
    // The person's copy: the cached row's fields Sunbird stores encrypted as the person gave them (with the key set).
    return { cache: held?.fields ? plainUserFields(deps.decryptUserField, held.fields) : null }
  },
} as const satisfies DeletionStep
