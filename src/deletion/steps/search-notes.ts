import { type DeletionStep, NOT_CONFIGURED, SEARCH, actionFor, owedWhenUnavailable, stepOutcome, withoutStore } from './step.js'

const STORE = SEARCH.steps.searchNotes

/** The notes index (Sunbird mirrors user_notes there): the person's notes removed; a soft deletion keeps them. */
export const searchNotes = {
  name: 'searchNotes',
  store: STORE,
  why: 'the free-text notes mirrored to the search engine removed',
  plans: ['sunbird', 'hard'],
  dependency: SEARCH.dependency,
  kept: { action: 'kept', why: 'notes kept while the deletion can be cancelled' },
  async run(context) {
    const { deps, request, plan } = context
    if (!deps.search) return withoutStore(context, 'searchNotes', SEARCH)
    try {
      return stepOutcome('done', 'deleted', deps.clock.now(), await deps.search.deleteNotes(request.userId), { plan })
    } catch (err) {
      return owedWhenUnavailable(deps, 'searchNotes', err, plan, request.id)
    }
  },
  async preview({ deps, userId, plan }) {
    if (!deps.search) return [{ store: STORE, action: NOT_CONFIGURED, count: 0 }]
    try {
      return [{ store: STORE, action: actionFor(plan, { sunbird: 'delete', hard: 'delete' }), count: (await deps.search.readNotes(userId)).length }]
    } catch (err) {
      return [{ store: STORE, action: owedWhenUnavailable(deps, 'searchNotes', err, plan).action, count: 0 }]
    }
  },
  async exportData({ deps, userId }) {
    return { searchNotes: deps.search ? await deps.search.readNotes(userId) : [] }
  },
} as const satisfies DeletionStep
