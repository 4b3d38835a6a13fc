import { DependencyUnavailableError } from '../deletion/errors.js'
import type { AccountDisabling, AccountErasure, AccountRecord, AccountState, IdentityProvider } from '../deletion/ports.js'
import { type HttpAnswer, httpCall } from '../shared/http-call.js'
import { keycloakIdsToTry } from './keycloak-user-ids.js'

/** The parts of Keycloak's UserRepresentation this adapter reads. */
interface UserRepresentation {
  username?: string
  email?: string
  firstName?: string
  lastName?: string
  enabled?: boolean
  createdTimestamp?: number
  attributes?: Record<string, string[]>
  [field: string]: unknown
}

export interface KeycloakAdminOptions {
  /** Keycloak base URL for admin calls (usually sunbird_sso_url). */
  baseUrl: string
  realm: string
  clientId: string
  clientSecret: string
  timeoutMs: number
  /** Extra attempts after a network error or a 5xx. */
  retries: number
  /**
   * Sunbird's sunbird_keycloak_user_federation_provider_id: when set, a user is looked for as
   * `f:<provider>:<user id>` and as the plain id (both are acted on when both exist; a read takes
   * the first found); empty or absent: the plain id only.
   */
  federationProviderId?: string
}

type AdminMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

class KeycloakUnreachable extends Error {
  override name = 'KeycloakUnreachable'
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** "Keycloak did not answer" becomes the domain's unavailable dependency; anything else stays itself. */
function asDomainError(err: unknown): unknown {
  return err instanceof KeycloakUnreachable ? new DependencyUnavailableError('keycloak', { cause: err }) : err
}

/** The pause before retry `attempt` (from 1) of an admin call. */
const retryBackoffMs = (attempt: number) => 100 * 2 ** attempt

/** Admin calls the Keycloak step may make for one account: sign-out, removal, and the disable when removal is refused. */
const ADMIN_CALLS_PER_ACCOUNT = 3

/** The longest the Keycloak step may take: its admin calls for each id the user may be held under (keycloakIdsToTry). */
export function longestAccountErasureMs(options: { timeoutMs: number; retries: number }, federationProviderId?: string): number {
  return longestAdminCallMs(options) * ADMIN_CALLS_PER_ACCOUNT * keycloakIdsToTry('', federationProviderId).length
}

/** The longest one admin call may take: each try up to its timeout, and the pauses between tries. */
export function longestAdminCallMs(options: { timeoutMs: number; retries: number }): number {
  let total = options.timeoutMs
  for (let attempt = 1; attempt <= options.retries; attempt++) total += retryBackoffMs(attempt) + options.timeoutMs
  return total
}

/**
 * Keycloak's admin REST API with the service client's credentials (client_credentials grant, token
 * cached until shortly before expiry). Every call is time-bounded and retried a bounded number of
 * times on network errors and 5xx; 4xx answers are final. A user is addressed by each of its
 * possible Keycloak ids in turn (keycloakIdsToTry) and is absent only when Keycloak knows none;
 * erasing and disabling act on every account Keycloak knows under those ids, enabling on those a
 * soft deletion disabled.
 */
export class KeycloakIdentity implements IdentityProvider {
  private token: { value: string; expiresAt: number } | undefined
  /** The token request in flight: calls that find no valid token meanwhile wait for it instead of asking for one each. */
  private tokenRequest: Promise<string> | undefined
  private readonly adminBase: string

  constructor(private readonly options: KeycloakAdminOptions) {
    this.adminBase = `${options.baseUrl}/admin/realms/${encodeURIComponent(options.realm)}`
  }

  async eraseAccount(userId: string): Promise<AccountErasure> {
    try {
      // Sessions first, on every account the person has: even if a removal is refused below, they
      // are signed out everywhere. The logouts also find which ids Keycloak holds, without a read.
      const signedOut = await this.everyFound(this.keycloakIds(userId), (userUrl) => this.endSessions(userUrl))
      if (signedOut.length === 0) return 'absent'
      const removals: AccountErasure[] = []
      for (const { userUrl } of signedOut) removals.push(await this.removeAccount(userUrl))
      // The weakest outcome speaks for the person: an account kept (disabled and blanked) is not
      // "deleted", even when the other one is gone.
      if (removals.includes('disabled')) return 'disabled'
      return removals.includes('deleted') ? 'deleted' : 'absent'
    } catch (err) {
      throw asDomainError(err)
    }
  }

  async disableAccount(userId: string, onDisabled?: (accountId: string) => void): Promise<AccountDisabling> {
    try {
      // Every account is read before any is changed: a refusal here leaves all as they were, so a
      // retry still sees which were enabled.
      const accounts = await this.everyFound(this.keycloakIds(userId), (userUrl) => this.readUser(userUrl))
      // Sessions first: a login in between would only meet a disabled account.
      const signedOut: typeof accounts = []
      for (const account of accounts) if (await this.endSessions(account.userUrl)) signedOut.push(account)
      if (signedOut.length === 0) return { outcome: 'absent', disabled: [] }
      // The whole representation goes back with only `enabled` changed: a partial one would drop attributes (Sunbird's roles).
      // Only the accounts this call disables are named: one disabled before (by an administrator) is not the deletion's to enable.
      const disabled: string[] = []
      for (const { keycloakId, userUrl, found: current } of signedOut) {
        if (current.enabled === false) continue
        await this.writeUser(userUrl, { ...current, enabled: false })
        disabled.push(keycloakId)
        onDisabled?.(keycloakId)
      }
      return { outcome: 'disabled', disabled }
    } catch (err) {
      throw asDomainError(err)
    }
  }

  /**
   * Enables the person's accounts named by `accountIds` (those a soft deletion disabled) that
   * Keycloak still holds, or, without it, every account Keycloak holds for the person (a deletion
   * recorded before the ids were kept). An account not named, e.g. one an administrator disabled
   * before the deletion, is left as it is.
   */
  async enableAccount(userId: string, accountIds?: readonly string[]): Promise<'enabled' | 'absent'> {
    try {
      const accounts = await this.everyFound(accountIds ?? this.keycloakIds(userId), (userUrl) => this.readUser(userUrl))
      if (accounts.length === 0) return 'absent'
      for (const { userUrl, found: current } of accounts) if (current.enabled !== true) await this.writeUser(userUrl, { ...current, enabled: true })
      return 'enabled'
    } catch (err) {
      throw asDomainError(err)
    }
  }

  /**
   * The account under the first id Keycloak knows (the federated one, which Sunbird serves, before
   * the plain one). The export's `keycloak` holds one account (schemas/user-export.response.json):
   * when the person has both, the native account is not in it.
   */
  async readAccount(userId: string): Promise<AccountRecord | undefined> {
    try {
      const located = await this.firstFound(userId, (userUrl) => this.readUser(userUrl))
      if (!located) return undefined
      const { userUrl, found: user } = located
      const links = await this.adminCall('GET', `${userUrl}/federated-identity`)
      const federated = links.ok ? ((await links.json()) as { identityProvider?: string; userId?: string; userName?: string }[]) : []
      if (!links.ok) await links.discard()
      return {
        username: user.username ?? null,
        email: user.email ?? null,
        firstName: user.firstName ?? null,
        lastName: user.lastName ?? null,
        enabled: user.enabled === true,
        created: typeof user.createdTimestamp === 'number' ? new Date(user.createdTimestamp).toISOString() : null,
        attributes: user.attributes ?? {},
        federatedIdentities: federated.map((link) => ({ identityProvider: link.identityProvider ?? '', userId: link.userId ?? '', userName: link.userName ?? '' })),
      }
    } catch (err) {
      throw asDomainError(err)
    }
  }

  /** Every account Keycloak holds under the user's possible ids, with whether it is enabled (as disableAccount reads it: enabled unless `enabled` is false). */
  async listAccounts(userId: string): Promise<AccountState[]> {
    try {
      const accounts = await this.everyFound(this.keycloakIds(userId), (userUrl) => this.readUser(userUrl))
      return accounts.map(({ keycloakId, found }) => ({ accountId: keycloakId, enabled: found.enabled !== false }))
    } catch (err) {
      throw asDomainError(err)
    }
  }

  /**
   * When a session of the user began, by its id (the `sid` of their token), or undefined when
   * Keycloak has no such session. A password grant starts a session and sets no AUTH_TIME note, so
   * its tokens carry no `auth_time`: the session's start is then the time of the login. The user id
   * comes without the token's `f:<provider>:` part, so a person with both accounts may have signed
   * in with either: the session is looked for under each id until one holds it.
   */
  async sessionStartedAt(userId: string, sessionId: string): Promise<Date | undefined> {
    try {
      for (const userUrl of this.userUrls(userId)) {
        const session = (await this.readSessions(userUrl))?.find((candidate) => candidate.id === sessionId)
        if (session) return typeof session.start === 'number' ? new Date(session.start) : undefined
      }
      return undefined
    } catch (err) {
      throw asDomainError(err)
    }
  }

  /** The user's possible Keycloak ids, in the order to try them. */
  private keycloakIds(userId: string): string[] {
    return keycloakIdsToTry(userId, this.options.federationProviderId)
  }

  /** The admin URL of the account with this Keycloak id. */
  private userUrl(keycloakId: string): string {
    // encodeURIComponent turns the ':' of `f:<provider>:<id>` into %3A, which Keycloak decodes.
    return `${this.adminBase}/users/${encodeURIComponent(keycloakId)}`
  }

  /** The user's URL under each of its possible Keycloak ids, in the order to try them. */
  private userUrls(userId: string): string[] {
    return this.keycloakIds(userId).map((keycloakId) => this.userUrl(keycloakId))
  }

  /**
   * Runs `lookup` on the user's URL under each of its possible Keycloak ids in turn, and answers the
   * first URL Keycloak knows with what the lookup found there; undefined when every id is unknown.
   * `lookup` answers undefined for Keycloak's 404 only: any other refusal ends the search.
   */
  private async firstFound<T>(userId: string, lookup: (userUrl: string) => Promise<T | undefined>): Promise<{ userUrl: string; found: T } | undefined> {
    for (const userUrl of this.userUrls(userId)) {
      const found = await lookup(userUrl)
      if (found !== undefined) return { userUrl, found }
    }
    return undefined
  }

  /**
   * Runs `lookup` on the URL of each of the Keycloak ids (the user's possible ids, or the ids a
   * soft deletion recorded), one after the other, and answers each account Keycloak knows with its
   * id and what the lookup found there (none when every id is unknown). A person may hold both a
   * federated and a native account: the calls that change an account act on each. `lookup`
   * answers undefined for Keycloak's 404 only: any other refusal, on any id, fails the whole call.
   */
  private async everyFound<T>(keycloakIds: readonly string[], lookup: (userUrl: string) => Promise<T | undefined>): Promise<{ keycloakId: string; userUrl: string; found: T }[]> {
    const known: { keycloakId: string; userUrl: string; found: T }[] = []
    for (const keycloakId of keycloakIds) {
      const userUrl = this.userUrl(keycloakId)
      const found = await lookup(userUrl)
      if (found !== undefined) known.push({ keycloakId, userUrl, found })
    }
    return known
  }

  /**
   * Removes the account at `userUrl` (its sessions already ended): deleted, absent when it went
   * meanwhile, or, Sunbird's fallback when removal is refused, disabled with what identifies the
   * person blanked.
   */
  private async removeAccount(userUrl: string): Promise<AccountErasure> {
    const removal = await this.adminStatus('DELETE', userUrl)
    if (removal.ok) return 'deleted'
    if (removal.status === 404) return 'absent'
    const disable = await this.adminStatus('PUT', userUrl, { enabled: false, email: '', firstName: '', lastName: '', emailVerified: false })
    if (!disable.ok) throw new Error(`disable answered ${disable.status}`)
    return 'disabled'
  }

  /** Ends every session of the user; undefined when Keycloak has no such user. */
  private async endSessions(userUrl: string): Promise<true | undefined> {
    const logout = await this.adminStatus('POST', `${userUrl}/logout`)
    if (logout.status === 404) return undefined
    if (!logout.ok) throw new Error(`logout answered ${logout.status}`)
    return true
  }

  /** The user's sessions; undefined when Keycloak has no such user, none when it will not list them. */
  private async readSessions(userUrl: string): Promise<{ id?: string; start?: number }[] | undefined> {
    const response = await this.adminCall('GET', `${userUrl}/sessions`)
    if (response.status === 404) {
      await response.discard()
      return undefined
    }
    if (!response.ok) {
      await response.discard()
      return []
    }
    return (await response.json()) as { id?: string; start?: number }[]
  }

  private async readUser(userUrl: string): Promise<UserRepresentation | undefined> {
    const response = await this.adminCall('GET', userUrl)
    if (response.status === 404) {
      await response.discard()
      return undefined
    }
    if (!response.ok) {
      await response.discard()
      throw new Error(`read user answered ${response.status}`)
    }
    return (await response.json()) as UserRepresentation
  }

  private async writeUser(userUrl: string, user: UserRepresentation): Promise<void> {
    const response = await this.adminStatus('PUT', userUrl, user)
    if (!response.ok) throw new Error(`update user answered ${response.status}`)
  }

  /** An admin call whose answer matters by its status alone: the body is released at once. */
  private async adminStatus(method: AdminMethod, url: string, body?: unknown): Promise<{ status: number; ok: boolean }> {
    const response = await this.adminCall(method, url, body)
    await response.discard()
    return { status: response.status, ok: response.ok }
  }

  private async adminCall(method: AdminMethod, url: string, body?: unknown): Promise<HttpAnswer> {
    const token = await this.accessToken()
    const response = await this.send(method, url, body, token)
    if (response.status !== 401) return response
    await response.discard()
    // A token revoked or expired early: one fresh token, one more try. Only the token that was
    // refused is dropped: one a concurrent call already fetched in its place is kept.
    if (this.token?.value === token) this.token = undefined
    return this.send(method, url, body, await this.accessToken())
  }

  private send(method: AdminMethod, url: string, body: unknown, token: string): Promise<HttpAnswer> {
    return this.withRetries(() =>
      httpCall(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: this.options.timeoutMs,
      }),
    )
  }

  private accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now()) return Promise.resolve(this.token.value)
    // Fifty deletions in flight when the token runs out (or at start) make one token request, not fifty.
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined
    })
    return this.tokenRequest
  }

  private async fetchToken(): Promise<string> {
    const response = await this.withRetries(() =>
      httpCall(`${this.options.baseUrl}/realms/${encodeURIComponent(this.options.realm)}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: this.options.clientId, client_secret: this.options.clientSecret }).toString(),
        timeoutMs: this.options.timeoutMs,
      }),
    )
    if (!response.ok) {
      await response.discard()
      throw new Error(`service client token refused (${response.status})`)
    }
    const { access_token: value, expires_in: expiresIn } = (await response.json()) as { access_token: string; expires_in: number }
    this.token = { value, expiresAt: Date.now() + Math.max(0, expiresIn - 30) * 1000 }
    return value
  }

  /** Network errors, timeouts and 5xx are retried with a short backoff; then Keycloak is "unreachable". */
  private async withRetries(call: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
    let lastError: unknown
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await sleep(retryBackoffMs(attempt))
      try {
        const response = await call()
        if (response.status < 500) return response
        lastError = new Error(`answered ${response.status}`)
        await response.discard()
      } catch (err) {
        lastError = err
      }
    }
    throw new KeycloakUnreachable('keycloak did not answer', { cause: lastError })
  }
}
