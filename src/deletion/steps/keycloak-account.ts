import { DependencyUnavailableError } from '../errors.js'
import type { StepOutcome } from '../deletion-request.js'
import { ABSENT_ON_RESUME } from './absent-on-resume.js'
import { type DeletionStep, LEFT_AS_IT_WAS, type RecordedOutcomes, type RestoreContext, type StepDeps, stepOutcome } from './step.js'

/** Keycloak out of reach, or refusing us (e.g. a revoked service client): the step is owed, the sweeper comes back for it. */
function owed(deps: StepDeps, err: unknown, plan: StepOutcome['plan'], requestId: string): StepOutcome {
  const unreachable = err instanceof DependencyUnavailableError && err.dependency === 'keycloak'
  deps.onStepError?.('keycloak', err, requestId)
  return stepOutcome('pending', unreachable ? 'unreachable' : 'refused', deps.clock.now(), undefined, { plan })
}

const STORE = 'keycloak'

/**
 * The restore fact naming the Keycloak ids of the accounts a soft deletion disabled, or is about to:
 * each enabled before it (ids only). A cancel enables every one named.
 */
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

/** Owed, keeping what the cancel needs (the accounts named so far), so that a cancel meanwhile enables them. */
function owedKeeping(deps: StepDeps, err: unknown, requestId: string, disabled: ReadonlySet<string>): StepOutcome {
  const pending = owed(deps, err, 'soft', requestId)
  return disabled.size > 0 ? { ...pending, restore: restoreFacts(disabled) } : pending
}

/**
 * Tells the log how many accounts a cancel leaves disabled that the deletion did not name (an
 * administrator's); ids only. Not awaited: the cancel holds no lease for a log line; errors dropped.
 */
function reportLeftDisabled(deps: StepDeps, request: RestoreContext['request'], named: readonly string[]): void {
  const tell = deps.onAccountsLeftDisabled
  if (!tell) return
  void (async () => {
    const accounts = await deps.identity.listAccounts(request.userId)
    const left = accounts.filter((account) => !account.enabled && !named.includes(account.accountId)).length
    if (left > 0) tell(request.id, left)
  })().catch(() => undefined)
}

/**
 * The identity provider account: sessions ended, then the account removed (Sunbird's fallback:
 * disabled and blanked). A soft deletion ends the sessions and disables the accounts, keeping them,
 * and records which accounts it disables (their Keycloak ids) so that a cancel enables those and
 * no other: an account disabled before the deletion (by an administrator) stays disabled.
 *
 * The ids are recorded before Keycloak is asked to disable them (an intent: the accounts enabled
 * now, one write, soft deletions only), so a run that dies after Keycloak took the change and before
 * its outcome was written leaves them recorded: a cancel enables them, and a run again keeps them.
 * One named but never disabled (died before the call) is enabled by a cancel, as it was before.
 * One enabled or created between the listing and the disable is written as soon as the disable
 * names it; one found disabled by then (an administrator's) is dropped from the outcome.
 */
export const keycloakAccount = {
  name: 'keycloak',
  store: STORE,
  why: 'every session ended, then the account removed (disabled and blanked if removal was refused)',
  softWhy: 'every session ended and the account disabled, kept whole so a cancel can enable it again',
  plans: ['sunbird', 'soft', 'hard'],
  dependency: 'keycloak',
  async run({ deps, request, plan, recordNow, resumed, progressed }): Promise<StepOutcome> {
    if (plan !== 'soft') {
      try {
        const erased = await deps.identity.eraseAccount(request.userId)
        // A fact for the owed-run count (owed-retry.ts): an account removed in this run, a managed user's among others still owed, is progress.
        // 'disabled' is not: Keycloak refusing the removal answers it again every run (the account kept, disabled and blanked once more),
        // and counting it would keep the wait at its shortest for a whole outage of another managed user's store.
        if (erased === 'deleted') progressed?.add('keycloak')
        // Nothing is recorded before the removal: a resumed run cannot tell "never had one" from "removed by the run it resumes".
        return stepOutcome('done', erased === 'absent' && resumed ? ABSENT_ON_RESUME : erased, deps.clock.now(), undefined, { plan })
      } catch (err) {
        // The Cassandra side still completes, the request stays partial, and the sweeper retries.
        return owed(deps, err, plan, request.id)
      }
    }
    if (!recordNow) throw new Error('the Keycloak step of a soft deletion needs recordNow')
    // An earlier attempt of this soft deletion (left owed, or died) may have named some already.
    const earlier: StepOutcome | undefined = (request.steps as RecordedOutcomes).keycloak
    const named = new Set<string>(earlier?.plan === 'soft' ? (disabledAccountsOf(earlier) ?? []) : [])
    let enabledNow: string[]
    try {
      enabledNow = (await deps.identity.listAccounts(request.userId)).filter((account) => account.enabled).map((account) => account.accountId)
    } catch (err) {
      return owedKeeping(deps, err, request.id, named)
    }
    const intended = enabledNow.filter((accountId) => !named.has(accountId))
    // Earlier ids and the intent: what a cancel enables if the run stops before the outcome is written.
    const recorded = new Set([...named, ...intended])
    if (intended.length > 0) {
      // The intent, written before the disable; Cassandra's failure stops the run before Keycloak is changed.
      await recordNow(stepOutcome('pending', 'disabling', deps.clock.now(), undefined, { plan, restore: restoreFacts(recorded) }))
    }
    const reported = new Set<string>()
    let outcome: string
    try {
      const disabling = await deps.identity.disableAccount(request.userId, (accountId) => reported.add(accountId))
      for (const accountId of disabling.disabled) reported.add(accountId)
      outcome = disabling.outcome
    } catch (err) {
      if (reported.size > 0) progressed?.add('keycloak')
      return owedKeeping(deps, err, request.id, new Set([...recorded, ...reported]))
    }
    if (reported.size > 0) progressed?.add('keycloak')
    // Earlier ids and those this call disabled: an intended one found disabled (an administrator's since the listing) is not claimed.
    const done = stepOutcome('done', outcome, deps.clock.now(), undefined, { plan, restore: restoreFacts(new Set([...named, ...reported])) })
    // One enabled or created since the listing: written at once, as the intent would have been.
    if ([...reported].some((accountId) => !recorded.has(accountId))) await recordNow(done)
    return done
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
    if (nothingToEnable) {
      reportLeftDisabled(deps, request, [])
      return stepOutcome('done', LEFT_AS_IT_WAS, deps.clock.now(), undefined, { plan: 'soft' })
    }
    try {
      // Only the accounts this deletion disabled; one removed since is 'absent' (nothing to put back).
      const enabled = await deps.identity.enableAccount(request.userId, disabled)
      if (disabled) reportLeftDisabled(deps, request, disabled)
      return stepOutcome('done', enabled === 'enabled' ? 'enabled' : 'absent', deps.clock.now(), undefined, { plan: 'soft' })
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
