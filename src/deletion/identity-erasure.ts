import { DependencyUnavailableError } from './errors.js'
import type { AccountErasure, IdentityProvider, PendingIdentityErasures, UserStore } from './ports.js'

export interface IdentityErasureDeps {
  identity: IdentityProvider
  pendingErasures: PendingIdentityErasures
}

export type ErasureOutcome = AccountErasure | 'pending' | 'nothing-owed'

/**
 * Pays an identity erasure that is owed: erase the account, then clear the debt. When the provider
 * cannot be reached the debt stays recorded (with one more attempt counted) for the next retry or
 * sweep; no other error is swallowed.
 */
export async function settleIdentityErasure(deps: IdentityErasureDeps, userId: string): Promise<ErasureOutcome> {
  const owed = await deps.pendingErasures.find(userId)
  if (!owed) return 'nothing-owed'
  try {
    const outcome = await deps.identity.eraseAccount(userId)
    await deps.pendingErasures.clear(userId)
    return outcome
  } catch (err) {
    if (!(err instanceof DependencyUnavailableError)) throw err
    await deps.pendingErasures.attemptFailed(userId)
    return 'pending'
  }
}

export interface SweepDeps extends IdentityErasureDeps {
  users: UserStore
  now(): Date
}

export interface SweepReport {
  settled: number
  stillPending: number
  abandoned: number
}

/**
 * The background half of "a retry finishes it later": every owed erasure whose user row is deleted
 * is settled. A debt recorded for a deletion that never committed (its request failed before the
 * user-row transaction) is dropped once it is older than `abandonAfterMs`, and never paid.
 */
export async function sweepPendingErasures(deps: SweepDeps, options: { limit: number; abandonAfterMs: number }): Promise<SweepReport> {
  const report: SweepReport = { settled: 0, stillPending: 0, abandoned: 0 }
  for (const owed of await deps.pendingErasures.list(options.limit)) {
    const user = await deps.users.findUser(owed.userId)
    const committed = user?.status === 2 && user.isDeleted === true
    if (!committed) {
      if (deps.now().getTime() - owed.since.getTime() > options.abandonAfterMs) {
        await deps.pendingErasures.clear(owed.userId)
        report.abandoned++
      }
      continue
    }
    const outcome = await settleIdentityErasure(deps, owed.userId)
    if (outcome === 'pending') report.stillPending++
    else report.settled++
  }
  return report
}
