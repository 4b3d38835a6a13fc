import { DependencyUnavailableError } from '../deletion/errors.js'
import type { AccountErasure, AccountRecord, IdentityProvider } from '../deletion/ports.js'
import { type HttpAnswer, httpCall } from '../shared/http-call.js'

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

/** The longest one admin call may take: each try up to its timeout, and the pauses between tries. */
export function longestAdminCallMs(options: { timeoutMs: number; retries: number }): number {
  let total = options.timeoutMs
  for (let attempt = 1; attempt <= options.retries; attempt++) total += retryBackoffMs(attempt) + options.timeoutMs
  return total
}

/**
 * Keycloak's admin REST API with the service client's credentials (client_credentials grant, token
 * cached until shortly before expiry). Every call is time-bounded and retried a bounded number of
 * times on network errors and 5xx; 4xx answers are final.
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
      const userUrl = `${this.adminBase}/users/${encodeURIComponent(userId)}`
      // Sessions first: even if removal is refused below, the user is signed out everywhere.
      const logout = await this.adminStatus('POST', `${userUrl}/logout`)
      if (logout.status === 404) return 'absent'
      if (!logout.ok) throw new Error(`logout answered ${logout.status}`)
      const removal = await this.adminStatus('DELETE', userUrl)
      if (removal.ok || removal.status === 404) return removal.ok ? 'deleted' : 'absent'
      // Sunbird's fallback when removal fails: lock the account and blank what identifies the person.
      const disable = await this.adminStatus('PUT', userUrl, { enabled: false, email: '', firstName: '', lastName: '', emailVerified: false })
      if (!disable.ok) throw new Error(`disable answered ${disable.status}`)
      return 'disabled'
    } catch (err) {
      throw asDomainError(err)
    }
  }

  async disableAccount(userId: string): Promise<{ outcome: 'disabled' | 'absent'; wasEnabled: boolean }> {
    try {
      const userUrl = this.userUrl(userId)
      const current = await this.readUser(userUrl)
      if (!current) return { outcome: 'absent', wasEnabled: false }
      // Sessions first: a login in between would only meet a disabled account.
      const logout = await this.adminStatus('POST', `${userUrl}/logout`)
      if (logout.status === 404) return { outcome: 'absent', wasEnabled: false }
      if (!logout.ok) throw new Error(`logout answered ${logout.status}`)
      // The whole representation goes back with only `enabled` changed: a partial one would drop attributes (Sunbird's roles).
      if (current.enabled !== false) await this.writeUser(userUrl, { ...current, enabled: false })
      return { outcome: 'disabled', wasEnabled: current.enabled !== false }
    } catch (err) {
      throw asDomainError(err)
    }
  }

  async enableAccount(userId: string): Promise<'enabled' | 'absent'> {
    try {
      const userUrl = this.userUrl(userId)
      const current = await this.readUser(userUrl)
      if (!current) return 'absent'
      if (current.enabled !== true) await this.writeUser(userUrl, { ...current, enabled: true })
      return 'enabled'
    } catch (err) {
      throw asDomainError(err)
    }
  }

  async readAccount(userId: string): Promise<AccountRecord | undefined> {
    try {
      const userUrl = this.userUrl(userId)
      const user = await this.readUser(userUrl)
      if (!user) return undefined
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

  /**
   * When a session of the user began, by its id (the `sid` of their token), or undefined when
   * Keycloak has no such session. A password grant starts a session and sets no AUTH_TIME note, so
   * its tokens carry no `auth_time`: the session's start is then the time of the login.
   */
  async sessionStartedAt(userId: string, sessionId: string): Promise<Date | undefined> {
    try {
      const response = await this.adminCall('GET', `${this.userUrl(userId)}/sessions`)
      if (!response.ok) {
        await response.discard()
        return undefined
      }
      const session = ((await response.json()) as { id?: string; start?: number }[]).find((candidate) => candidate.id === sessionId)
      return typeof session?.start === 'number' ? new Date(session.start) : undefined
    } catch (err) {
      throw asDomainError(err)
    }
  }

  private userUrl(userId: string): string {
    return `${this.adminBase}/users/${encodeURIComponent(userId)}`
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
