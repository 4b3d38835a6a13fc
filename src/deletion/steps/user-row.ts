import { type DeletionStep, stepOutcome } from './step.js'

export const userRow = {
  name: 'userRow',
  store: 'cassandra.user (profile)',
  why: 'every personal column blanked; the row stays as a tombstone because other Sunbird data refers to its id',
  plans: ['sunbird'],
  async run({ deps, request }) {
    await deps.users.scrubProfile(request.userId, { requestedBy: request.requestedBy, at: deps.clock.now() })
    return stepOutcome('done', 'scrubbed', deps.clock.now())
  },
} as const satisfies DeletionStep
