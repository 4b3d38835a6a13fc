import { DependencyUnavailableError } from '../errors.js'
import type { StepOutcome } from '../deletion-request.js'
import { type DeletionStep, type StepDeps, stepOutcome } from './step.js'

/** Keycloak out of reach, or refusing us (e.g. a revoked service client): the step is owed, the sweeper comes back for it. */
function owed(deps: StepDeps, err: unknown, plan: StepOutcome['plan'], requestId: string): StepOutcome {
  const unreachable = err instanceof DependencyUnavailableError && err.dependency === 'keycloak'
  deps.onStepError?.('keycloak', err, requestId)
  return stepOutcome('pending', unreachable ? 'unreachable' : 'refused', deps.clock.now(), undefined, { plan })
}

const STORE = 'keycloak'

/**
 * The identity provider account: sessions ended, then the account removed (Sunbird's fallback:
 * disabled and blanked). A soft deletion ends the sessions and disables the account, keeping it,
 * and remembers whether it was enabled so a cancel can put that back.
 */
export const keycloakAccount = {
  name: 'keycloak',
  store: STORE,
  why: 'every session ended, then the account removed (disabled and blanked if removal was refused)',
  plans: ['sunbird', 'soft', 'hard'],
  async run({ deps, request, plan }) {
    try {
      if (plan === 'soft') {
        const { outcome, wasEnabled } = await deps.identity.disableAccount(request.userId)
        return stepOutcome('done', outcome, deps.clock.now(), undefined, { plan, restore: { enabled: wasEnabled } })
      }
      return stepOutcome('done', await deps.identity.eraseAccount(request.userId), deps.clock.now(), undefined, { plan })
    } catch (err) {
      // The Cassandra side still completes, the request stays partial, and the sweeper retries.
      return owed(deps, err, plan, request.id)
    }
  },
  async preview({ deps, userId, plan }) {
    try {
      const account = await deps.identity.readAccount(userId)
      if (!account) return [{ store: STORE, action: 'absent', count: 0 }]
      return [{ store: STORE, action: plan === 'soft' ? 'disable' : 'delete', count: 1 }]
    } catch (err) {
      if (err instanceof DependencyUnavailableError) return [{ store: STORE, action: 'unreachable', count: 0 }]
      throw err
    }
  },
  async restore({ deps, request, outcome }) {
    // An account that was disabled before the deletion stays disabled.
    if (outcome.restore?.enabled === false || outcome.action === 'absent') return stepOutcome('done', 'left-as-it-was', deps.clock.now(), undefined, { plan: 'soft' })
    try {
      return stepOutcome('done', (await deps.identity.enableAccount(request.userId)) === 'enabled' ? 'enabled' : 'absent', deps.clock.now(), undefined, { plan: 'soft' })
    } catch (err) {
      const pending = owed(deps, err, 'soft', request.id)
      // Keep what the restore needs for the next attempt.
      return { ...pending, ...(outcome.restore && { restore: outcome.restore }) }
    }
  },
  async exportData({ deps, userId }) {
    return { keycloak: (await deps.identity.readAccount(userId)) ?? null }
  },
} as const satisfies DeletionStep
