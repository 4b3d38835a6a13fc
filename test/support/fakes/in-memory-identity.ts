import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import type { AccountErasure, DeletionListener, IdentityProvider } from '../../../src/deletion/ports.js'
import { Timeline } from './timeline.js'

/**
 * Keycloak's side of a user, in memory, with the adapter's contract: `eraseAccount` removes an
 * existing account ('deleted'), disables it when removal is refused ('disabled', see
 * `refuseRemovalOf`), or reports 'absent'; it is idempotent.
 *
 * Switches: `goDown()` makes every call throw DependencyUnavailableError('keycloak') until
 * `comeBack()`; `hang()` makes calls never settle (until `comeBack()`, which does not release calls
 * already hanging). Every call is counted and written to the timeline as `identity.eraseAccount`.
 */
export class InMemoryIdentityProvider implements IdentityProvider {
  /** Every user id eraseAccount was called with, in order, whatever the outcome. */
  readonly calls: string[] = []
  private readonly accounts: Set<string>
  private readonly disabled = new Set<string>()
  private readonly refusing = new Set<string>()
  private mode: 'up' | 'down' | 'hanging' = 'up'

  constructor(
    accounts: readonly string[] = [],
    readonly timeline: Timeline = new Timeline(),
  ) {
    this.accounts = new Set(accounts)
  }

  goDown(): this {
    this.mode = 'down'
    return this
  }

  hang(): this {
    this.mode = 'hanging'
    return this
  }

  comeBack(): this {
    this.mode = 'up'
    return this
  }

  /** Removal of this account is refused (Keycloak 403): it gets disabled and blanked instead. */
  refuseRemovalOf(userId: string): this {
    this.refusing.add(userId)
    return this
  }

  hasAccount(userId: string): boolean {
    return this.accounts.has(userId)
  }

  isDisabled(userId: string): boolean {
    return this.disabled.has(userId)
  }

  async eraseAccount(userId: string): Promise<AccountErasure> {
    this.timeline.record('identity', 'eraseAccount')
    this.calls.push(userId)
    if (this.mode === 'down') throw new DependencyUnavailableError('keycloak')
    if (this.mode === 'hanging') return new Promise<AccountErasure>(() => undefined)
    if (!this.accounts.has(userId)) return 'absent'
    if (this.refusing.has(userId)) {
      this.disabled.add(userId)
      return 'disabled'
    }
    this.accounts.delete(userId)
    return 'deleted'
  }
}

/** Remembers which users it was told were deleted, in order. */
export class RecordingDeletionListener implements DeletionListener {
  readonly deleted: string[] = []

  constructor(readonly timeline: Timeline = new Timeline()) {}

  userDeleted(userId: string): void {
    this.timeline.record('listener', 'userDeleted')
    this.deleted.push(userId)
  }
}
