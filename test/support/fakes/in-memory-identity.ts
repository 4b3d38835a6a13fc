import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import type { AccountDisabling, AccountErasure, AccountRecord, AccountState, DeletionListener, IdentityProvider } from '../../../src/deletion/ports.js'
import { Timeline } from './timeline.js'

/** What the identity provider holds about an account that identifies the person. */
export interface FakeAccount {
  enabled: boolean
  email: string
  firstName: string
  lastName: string
}

/** A signed-in session of an account (what a refresh token stands for). */
export interface FakeSession {
  userId: string
  id: number
}

/**
 * Keycloak's side of a user, in memory, with the adapter's contract: `eraseAccount` first ends every
 * session of the account, then removes it ('deleted'), or, when removal is refused (see
 * `refuseRemovalOf`), disables it and blanks its email and names ('disabled'); an unknown account is
 * 'absent'. It is idempotent.
 *
 * Switches: `goDown()` makes every call throw DependencyUnavailableError('keycloak') until
 * `comeBack()`; `hang()` makes calls stay in flight (until `comeBack()`, which does not release
 * calls already hanging) until `timeOut()` fails them with DependencyUnavailableError, as the
 * adapter does once its time bound passes; `refuseCredentials()` makes every call fail as when the
 * service client's credentials are refused (a plain Error, not "unavailable"). Every eraseAccount
 * is counted and written to the timeline as `identity.eraseAccount` (the others as
 * `identity.<method>`). disableAccount ends the sessions and disables, keeping the account, and
 * names the accounts it disabled; enableAccount enables them again (those named, or every one);
 * readAccount answers it as the export shows it; listAccounts names each account with its state.
 *
 * Accounts are held by their Keycloak id, which is the user id unless `addAccount` is given another
 * (e.g. Sunbird's federated `f:<provider>:<id>`): a person may hold several, as in Keycloak, and
 * erase, disable and enable act on each (in the order they were added), read on the first.
 * `failWritesTo(keycloakId)` makes changing that one account fail as unreachable (a call failing
 * part way) until `comeBack()`. The switches and readers that name an account take its Keycloak id.
 */
export class InMemoryIdentityProvider implements IdentityProvider {
  /** Every user id eraseAccount was called with, in order, whatever the outcome. */
  readonly calls: string[] = []
  /** By Keycloak id, with the user id of the person who holds it. */
  private readonly accounts = new Map<string, FakeAccount & { userId: string; sessions: Set<number> }>()
  private readonly refusing = new Set<string>()
  private readonly failingWrites = new Set<string>()
  private readonly inFlight: ((error: unknown) => void)[] = []
  private mode: 'up' | 'down' | 'hanging' = 'up'
  private credentialsRefused = false
  private sessionCount = 0

  constructor(
    accounts: readonly string[] = [],
    readonly timeline: Timeline = new Timeline(),
  ) {
    for (const userId of accounts) this.addAccount(userId)
  }

  /**
   * Creates an account of the user (with placeholder email and names unless given): enabled, under
   * the user id, unless told otherwise (`keycloakId`, e.g. `f:<provider>:<id>`; `enabled: false`,
   * one an administrator disabled).
   */
  addAccount(userId: string, details: Partial<Omit<FakeAccount, 'enabled'>> = {}, options: { keycloakId?: string; enabled?: boolean } = {}): this {
    this.accounts.set(options.keycloakId ?? userId, {
      userId,
      enabled: options.enabled ?? true,
      email: details.email ?? `${userId}@example.org`,
      firstName: details.firstName ?? 'Asha',
      lastName: details.lastName ?? 'Verma',
      sessions: new Set(),
    })
    return this
  }

  goDown(): this {
    this.mode = 'down'
    return this
  }

  hang(): this {
    this.mode = 'hanging'
    return this
  }

  /** Up again: calls answer, and changes no longer fail (failWritesTo). */
  comeBack(): this {
    this.mode = 'up'
    this.failingWrites.clear()
    return this
  }

  /** Fails every call still hanging with DependencyUnavailableError, as the adapter's time bound does. */
  timeOut(): this {
    for (const reject of this.inFlight.splice(0)) reject(new DependencyUnavailableError('keycloak'))
    return this
  }

  /** The service client's credentials are refused from now on (e.g. its secret was rotated). */
  refuseCredentials(): this {
    this.credentialsRefused = true
    return this
  }

  /** The service client's credentials are taken again (the secret put right). */
  acceptCredentials(): this {
    this.credentialsRefused = false
    return this
  }

  /** Removal of this account is refused (Keycloak 403): it gets disabled and blanked instead. */
  refuseRemovalOf(userId: string): this {
    this.refusing.add(userId)
    return this
  }

  /** From now on changing this account (disable, enable) fails as when Keycloak is out of reach; the others are changed. */
  failWritesTo(keycloakId: string): this {
    this.failingWrites.add(keycloakId)
    return this
  }

  /** An administrator disables the account in Keycloak (outside any deletion). */
  disableByAdministrator(keycloakId: string): this {
    const account = this.accounts.get(keycloakId)
    if (!account) throw new Error(`no account ${keycloakId}`)
    account.enabled = false
    return this
  }

  /** An administrator removes the account from Keycloak. */
  removeByAdministrator(keycloakId: string): this {
    this.accounts.delete(keycloakId)
    return this
  }

  /** The accounts of the person, by Keycloak id, in the order they were added. */
  private accountsOf(userId: string) {
    return [...this.accounts].filter(([, account]) => account.userId === userId).map(([keycloakId, account]) => ({ keycloakId, account }))
  }

  /** Changes an account's `enabled`, unless changes to it fail (failWritesTo). */
  private write(keycloakId: string, account: FakeAccount, enabled: boolean): void {
    if (this.failingWrites.has(keycloakId)) throw new DependencyUnavailableError('keycloak')
    account.enabled = enabled
  }

  /** Signs the account in: a session that lasts until the account's sessions are ended. */
  signIn(userId: string): FakeSession {
    const account = this.accounts.get(userId)
    if (!account?.enabled) throw new Error(`no enabled account ${userId}`)
    const session = { userId, id: ++this.sessionCount }
    account.sessions.add(session.id)
    return session
  }

  isSignedIn(session: FakeSession): boolean {
    return this.accounts.get(session.userId)?.sessions.has(session.id) === true
  }

  hasAccount(userId: string): boolean {
    return this.accounts.has(userId)
  }

  isDisabled(userId: string): boolean {
    return this.accounts.get(userId)?.enabled === false
  }

  /** A copy of the account as it stands, or undefined once removed. */
  accountOf(userId: string): FakeAccount | undefined {
    const account = this.accounts.get(userId)
    return account && { enabled: account.enabled, email: account.email, firstName: account.firstName, lastName: account.lastName }
  }

  /** Up, down, hanging or refusing credentials, as every call sees it. */
  private async reachable(): Promise<void> {
    if (this.mode === 'down') throw new DependencyUnavailableError('keycloak')
    if (this.mode === 'hanging') return new Promise<void>((_resolve, reject) => void this.inFlight.push(reject))
    if (this.credentialsRefused) throw new Error('service client token refused (401)')
  }

  async disableAccount(userId: string, onDisabled?: (accountId: string) => void): Promise<AccountDisabling> {
    this.timeline.record('identity', 'disableAccount')
    await this.reachable()
    const accounts = this.accountsOf(userId)
    if (accounts.length === 0) return { outcome: 'absent', disabled: [] }
    // Sessions first, on every account, as the adapter does.
    for (const { account } of accounts) account.sessions.clear()
    const disabled: string[] = []
    for (const { keycloakId, account } of accounts) {
      if (!account.enabled) continue
      this.write(keycloakId, account, false)
      disabled.push(keycloakId)
      onDisabled?.(keycloakId)
    }
    return { outcome: 'disabled', disabled }
  }

  async enableAccount(userId: string, accountIds?: readonly string[]): Promise<'enabled' | 'absent'> {
    this.timeline.record('identity', 'enableAccount')
    await this.reachable()
    const accounts = accountIds ? accountIds.flatMap((keycloakId) => this.accountsOf(userId).filter((held) => held.keycloakId === keycloakId)) : this.accountsOf(userId)
    if (accounts.length === 0) return 'absent'
    for (const { keycloakId, account } of accounts) if (!account.enabled) this.write(keycloakId, account, true)
    return 'enabled'
  }

  async readAccount(userId: string): Promise<AccountRecord | undefined> {
    this.timeline.record('identity', 'readAccount')
    await this.reachable()
    const account = this.accountsOf(userId)[0]?.account
    if (!account) return undefined
    return {
      username: `user-${userId}`,
      email: account.email,
      firstName: account.firstName,
      lastName: account.lastName,
      enabled: account.enabled,
      created: '2024-01-10T08:00:00.000Z',
      attributes: {},
      federatedIdentities: [],
    }
  }

  async listAccounts(userId: string): Promise<AccountState[]> {
    this.timeline.record('identity', 'listAccounts')
    await this.reachable()
    return this.accountsOf(userId).map(({ keycloakId, account }) => ({ accountId: keycloakId, enabled: account.enabled }))
  }

  async eraseAccount(userId: string): Promise<AccountErasure> {
    this.timeline.record('identity', 'eraseAccount')
    this.calls.push(userId)
    if (this.mode === 'down') throw new DependencyUnavailableError('keycloak')
    if (this.mode === 'hanging') return new Promise<AccountErasure>((_resolve, reject) => void this.inFlight.push(reject))
    if (this.credentialsRefused) throw new Error('service client token refused (401)')
    const accounts = this.accountsOf(userId)
    if (accounts.length === 0) return 'absent'
    // Sessions first: even if removal is refused below, the user is signed out everywhere.
    for (const { account } of accounts) account.sessions.clear()
    let kept = false
    for (const { keycloakId, account } of accounts) {
      if (this.refusing.has(keycloakId)) {
        Object.assign(account, { enabled: false, email: '', firstName: '', lastName: '' })
        kept = true
      } else this.accounts.delete(keycloakId)
    }
    // The weakest outcome speaks for the person, as the adapter's does.
    return kept ? 'disabled' : 'deleted'
  }
}

/** Remembers which users it was told were deleted (and which of them restorably) and restored, in order. */
export class RecordingDeletionListener implements DeletionListener {
  readonly deleted: string[] = []
  readonly restorable: string[] = []
  readonly restored: string[] = []

  constructor(readonly timeline: Timeline = new Timeline()) {}

  userDeleted(userId: string, restorable = false): void {
    this.timeline.record('listener', 'userDeleted')
    this.deleted.push(userId)
    if (restorable) this.restorable.push(userId)
  }

  userRestored(userId: string): void {
    this.timeline.record('listener', 'userRestored')
    this.restored.push(userId)
  }
}
