import { DependencyUnavailableError } from '../errors.js'
import { type DeletionStep, stepOutcome } from './step.js'

/** The identity provider account: sessions ended, then the account removed (Sunbird's fallback: disabled and blanked). */
export const keycloakAccount = {
  name: 'keycloak',
  store: 'keycloak',
  why: 'every session ended, then the account removed (disabled and blanked if removal was refused)',
  plans: ['sunbird'],
  async run({ deps, request }) {
    try {
      return stepOutcome('done', await deps.identity.eraseAccount(request.userId), deps.clock.now())
    } catch (err) {
      // Keycloak out of reach, or refusing us (e.g. a revoked service client): the Cassandra side
      // still completes, the request stays partial, and the sweeper comes back for this step.
      const unreachable = err instanceof DependencyUnavailableError && err.dependency === 'keycloak'
      deps.onStepError?.('keycloak', err)
      return stepOutcome('pending', unreachable ? 'unreachable' : 'refused', deps.clock.now())
    }
  },
} as const satisfies DeletionStep
