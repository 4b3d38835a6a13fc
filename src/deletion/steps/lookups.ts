import { type DeletionStep, stepOutcome } from './step.js'

export const lookups = {
  name: 'lookups',
  store: 'cassandra.user_lookup',
  why: 'login and search keys (username, email, phone, external ids) removed',
  plans: ['sunbird'],
  async run({ deps, request }) {
    return stepOutcome('done', 'deleted', deps.clock.now(), await deps.users.eraseLookups(request.userId))
  },
} as const satisfies DeletionStep
