import { type DeletionStep, stepOutcome } from './step.js'

export const externalIdentities = {
  name: 'externalIdentities',
  store: 'cassandra.usr_external_identity',
  why: 'links to external identity providers removed',
  plans: ['sunbird'],
  async run({ deps, request }) {
    return stepOutcome('done', 'deleted', deps.clock.now(), await deps.users.eraseExternalIdentities(request.userId))
  },
} as const satisfies DeletionStep
