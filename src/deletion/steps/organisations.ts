import { type DeletionStep, stepOutcome } from './step.js'

export const organisations = {
  name: 'organisations',
  store: 'cassandra.user_organisation',
  why: 'memberships marked left (isdeleted, orgleftdate); ids only, kept for the organisation history Sunbird jobs read',
  plans: ['sunbird'],
  async run({ deps, request }) {
    return stepOutcome('done', 'marked-left', deps.clock.now(), await deps.users.leaveOrganisations(request.userId, deps.clock.now()))
  },
} as const satisfies DeletionStep
