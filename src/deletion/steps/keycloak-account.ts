import { DependencyUnavailableError } from '../errors.js'
import type { StepOutcome } from '../deletion-request.js'
import { type DeletionStep, type RecordedOutcomes, type StepDeps, stepOutcome } from './step.js'

/** Keycloak out of reach, or refusing us (e.g. a revoked service client): the step is owed, the sweeper comes back for it. */
function owed(deps: StepDeps, err: unknown, plan: StepOutcome['plan'], requestId: string): StepOutcome {
  const unreachable = err instanceof DependencyUnavailableError && err.dependency === 'keycloak'
  deps.onStepError?.('keycloak', err, requestId)
  return stepOutcome('pending', unreachable ? 'unreachable' : 'refused', deps.clock.now(), undefined, { plan })
}

const STORE = 'keycloak'

/** The restore fact naming the Keycloak ids of the accounts a soft deletion disabled (ids only). */
const DISABLED_ACCOUNTS = 'disabledAccounts'

/** The accounts an outcome records as disabled by the deletion; undefined for one recorded before they were kept. */
function disabledAccountsOf(outcome: StepOutcome | undefined): readonly string[] | undefined {
  const recorded = outcome?.restore?.[DISABLED_ACCOUNTS]
  return Array.isArray(recorded) ? recorded : undefined
}

/**
 * What a cancel needs: the Keycloak ids of the accounts this deletion disabled, and (for a
 * service rolled back to a version that does not read them) whether any was enabled before.
 */
const restoreFacts = (disabled: ReadonlySet<string>) => ({ enabled: disabled.size > 0, [DISABLED_ACCOUNTS]: [...disabled] })

/**
 * The identity provider account: sessions ended, then the account removed (Sunbird's fallback:
 * disabled and blanked). A soft deletion ends the sessions and disables the accounts, keeping them,
 * and records which accounts it disabled (their Keycloak ids) so that a cancel enables those and
 * no other: an account disabled before the deletion (by an administrator) stays disabled.
 *
 * A run again (after an outage or a crash) adds what it disables to what an earlier attempt of the
 * same request recorded. An account it finds disabled that no attempt recorded (a crash after
 * Keycloak took the change and before the outcome was written) is not claimed: nothing tells the
 * deletion's doing from an administrator's, and a cancel leaves it disabled rather than enabling an
 * account someone else disabled (docs/operating.md). The outcome is written as soon as the step
 * disabled an account (checkpointAfter), which keeps that window to the one write.
 */
export const keycloakAccount = {
  name: 'keycloak',
  store: STORE,
  why: 'every session ended, then the account removed (disabled and blanked if removal was refused)',
  plans: ['sunbird', 'soft', 'hard'],
  checkpointAfter: (outcome: StepOutcome) => (disabledAccountsOf(outcome)?.length ?? 0) > 0,
  async run({ deps, request, plan }): Promise<StepOutcome> {
    if (plan !== 'soft') {
      try {
        return stepOutcome('done', await deps.identity.eraseAccount(request.userId), deps.clock.now(), undefined, { plan })
      } catch (err) {
        // The Cassandra side still completes, the request stays partial, and the sweeper retries.
        return owed(deps, err, plan, request.id)
      }
    }
    // An earlier attempt of this soft deletion (left owed) may have disabled some already.
    const earlier: StepOutcome | undefined = (request.steps as RecordedOutcomes).keycloak
    const disabled = new Set<string>(earlier?.plan === 'soft' ? (disabledAccountsOf(earlier) ?? []) : [])
    try {
      const { outcome } = await deps.identity.disableAccount(request.userId, (accountId) => disabled.add(accountId))
      return stepOutcome('done', outcome, deps.clock.now(), undefined, { plan, restore: restoreFacts(disabled) })
    } catch (err) {
      // Owed; what was disabled so far is kept, so that a cancel meanwhile enables it.
      const pending = owed(deps, err, plan, request.id)
      return disabled.size > 0 ? { ...pending, restore: restoreFacts(disabled) } : pending
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
    const disabled = disabledAccountsOf(outcome)
    // Recorded before the accounts were named: as then, every account is enabled unless none was enabled before.
    const nothingToEnable = disabled ? disabled.length === 0 : outcome.restore?.enabled === false || outcome.action === 'absent'
    // An account that was disabled before the deletion stays disabled.
    if (nothingToEnable) return stepOutcome('done', 'left-as-it-was', deps.clock.now(), undefined, { plan: 'soft' })
    try {
      // Only the accounts this deletion disabled; one removed since is 'absent' (nothing to put back).
      return stepOutcome('done', (await deps.identity.enableAccount(request.userId, disabled)) === 'enabled' ? 'enabled' : 'absent', deps.clock.now(), undefined, { plan: 'soft' })
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
