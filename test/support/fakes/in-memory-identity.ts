import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import type { AccountErasure, DeletionListener, IdentityProvider, PendingErasure, PendingIdentityErasures } from '../../../src/deletion/ports.js'

/**
 * Keycloak's side of a user, in memory. Accounts listed at construction exist; `eraseAccount`
 * removes one ('deleted') or reports 'absent'. `goDown()` makes every call throw
 * DependencyUnavailableError('keycloak') until `comeBack()`; `hang()` makes calls never settle.
 */
export class InMemoryIdentityProvider implements IdentityProvider {
  readonly erased: string[] = []
  private readonly accounts: Set<string>
  private mode: 'up' | 'down' | 'hanging' = 'up'

  constructor(
    accounts: readonly string[] = [],
    private readonly journal?: string[],
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

  hasAccount(userId: string): boolean {
    return this.accounts.has(userId)
  }

  async eraseAccount(userId: string): Promise<AccountErasure> {
    this.journal?.push('identity.eraseAccount')
    if (this.mode === 'down') throw new DependencyUnavailableError('keycloak')
    if (this.mode === 'hanging') return new Promise<AccountErasure>(() => undefined)
    this.erased.push(userId)
    return this.accounts.delete(userId) ? 'deleted' : 'absent'
  }
}

/** The write-ahead list of owed identity erasures, in memory. */
export class InMemoryPendingErasures implements PendingIdentityErasures {
  private readonly owed = new Map<string, PendingErasure>()

  constructor(private readonly journal?: string[]) {}

  async record(userId: string, at: Date): Promise<void> {
    this.journal?.push('pending.record')
    if (!this.owed.has(userId)) this.owed.set(userId, { userId, since: at, attempts: 0 })
  }

  async find(userId: string): Promise<PendingErasure | undefined> {
    const entry = this.owed.get(userId)
    return entry && { ...entry }
  }

  async list(limit: number): Promise<PendingErasure[]> {
    return [...this.owed.values()].slice(0, limit).map((entry) => ({ ...entry }))
  }

  async attemptFailed(userId: string): Promise<void> {
    this.journal?.push('pending.attemptFailed')
    const entry = this.owed.get(userId)
    if (entry) this.owed.set(userId, { ...entry, attempts: entry.attempts + 1 })
  }

  async clear(userId: string): Promise<void> {
    this.journal?.push('pending.clear')
    this.owed.delete(userId)
  }
}

/** Remembers which users it was told were deleted. */
export class RecordingDeletionListener implements DeletionListener {
  readonly deleted: string[] = []

  constructor(private readonly journal?: string[]) {}

  userDeleted(userId: string): void {
    this.journal?.push('listener.userDeleted')
    this.deleted.push(userId)
  }
}
