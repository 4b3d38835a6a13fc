import { DependencyUnavailableError } from '../deletion/errors.js'
import type { AccountErasure, IdentityProvider } from '../deletion/ports.js'

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

class KeycloakUnreachable extends Error {
  override name = 'KeycloakUnreachable'
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Keycloak's admin REST API with the service client's credentials (client_credentials grant, token
 * cached until shortly before expiry). Every call is time-bounded and retried a bounded number of
 * times on network errors and 5xx; 4xx answers are final.
 */
export class KeycloakIdentity implements IdentityProvider {
  private token: { value: string; expiresAt: number } | undefined
  private readonly adminBase: string

  constructor(private readonly options: KeycloakAdminOptions) {
    this.adminBase = `${options.baseUrl}/admin/realms/${encodeURIComponent(options.realm)}`
  }

  async eraseAccount(userId: string): Promise<AccountErasure> {
    try {
      const userUrl = `${this.adminBase}/users/${encodeURIComponent(userId)}`
      // Sessions first: even if removal is refused below, the user is signed out everywhere.
      const logout = await this.adminCall('POST', `${userUrl}/logout`)
      if (logout.status === 404) return 'absent'
      if (!logout.ok) throw new Error(`logout answered ${logout.status}`)
      const removal = await this.adminCall('DELETE', userUrl)
      if (removal.ok || removal.status === 404) return removal.ok ? 'deleted' : 'absent'
      // Sunbird's fallback when removal fails: lock the account and blank what identifies the person.
      const disable = await this.adminCall('PUT', userUrl, { enabled: false, email: '', firstName: '', lastName: '', emailVerified: false })
      if (!disable.ok) throw new Error(`disable answered ${disable.status}`)
      return 'disabled'
    } catch (err) {
      if (err instanceof KeycloakUnreachable) throw new DependencyUnavailableError('keycloak', { cause: err })
      throw err
    }
  }

  private async adminCall(method: string, url: string, body?: unknown): Promise<Response> {
    const response = await this.send(method, url, body, await this.accessToken())
    if (response.status !== 401) return response
    // A token revoked or expired early: one fresh token, one more try.
    this.token = undefined
    return this.send(method, url, body, await this.accessToken())
  }

  private send(method: string, url: string, body: unknown, token: string): Promise<Response> {
    return this.withRetries(() =>
      fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      }),
    )
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now()) return this.token.value
    const response = await this.withRetries(() =>
      fetch(`${this.options.baseUrl}/realms/${encodeURIComponent(this.options.realm)}/protocol/openid-connect/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: this.options.clientId, client_secret: this.options.clientSecret }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      }),
    )
    if (!response.ok) throw new Error(`service client token refused (${response.status})`)
    const { access_token: value, expires_in: expiresIn } = (await response.json()) as { access_token: string; expires_in: number }
    this.token = { value, expiresAt: Date.now() + Math.max(0, expiresIn - 30) * 1000 }
    return value
  }

  /** Network errors, timeouts and 5xx are retried with a short backoff; then Keycloak is "unreachable". */
  private async withRetries(call: () => Promise<Response>): Promise<Response> {
    let lastError: unknown
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await sleep(100 * 2 ** attempt)
      try {
        const response = await call()
        if (response.status < 500) return response
        lastError = new Error(`answered ${response.status}`)
        await response.body?.cancel()
      } catch (err) {
        lastError = err
      }
    }
    throw new KeycloakUnreachable('keycloak did not answer', { cause: lastError })
  }
}
