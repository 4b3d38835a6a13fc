import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { KeysUnavailableError, type KeySource, UnknownKeyError } from './key-source.js'
import { httpCall } from '../shared/http-call.js'

export interface JwksKeySourceOptions {
  /** e.g. http://127.0.0.1:18080/realms/sunbird */
  realmUrl: string
  fetchTimeoutMs?: number
  /** The JWKS is fetched at most this often, whatever kids tokens name, counted from the end of the last fetch (60 s when not given). */
  minRefreshIntervalMs?: number
  /** Keys loaded longer ago than this are fetched again on next use, in the background (5 min when not given). */
  maxAgeMs?: number
  now?: () => number
}

type Jwk = JsonWebKey & { kid?: string; use?: string; alg?: string }

/**
 * The realm's signing keys from its JWKS endpoint, cached by kid. Unlike keycloak-connect's own
 * Rotation: fetches time out, concurrent misses share one fetch, the endpoint is asked at most once
 * per interval (so a stream of tokens with made-up kids cannot turn into a stream of fetches), and
 * a failed refresh keeps the keys we have, so Keycloak being down never turns a token signed with
 * a cached key into an error. Keys past their max age are refetched while the cached ones keep
 * serving: a key the realm removed stops verifying at the next fetch, without a restart.
 */
export class JwksKeySource implements KeySource {
  private keys = new Map<string, string>()
  private lastAttempt = Number.NEGATIVE_INFINITY
  private loadedAt = Number.NEGATIVE_INFINITY
  private inflight: Promise<void> | undefined
  private readonly url: string
  private readonly fetchTimeoutMs: number
  private readonly minRefreshIntervalMs: number
  private readonly maxAgeMs: number
  private readonly now: () => number

  constructor(options: JwksKeySourceOptions) {
    this.url = `${options.realmUrl}/protocol/openid-connect/certs`
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 3000
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 60_000
    this.maxAgeMs = options.maxAgeMs ?? 300_000
    // Monotonic: a wall clock stepped back or forth (NTP) must not shorten the interval.
    this.now = options.now ?? (() => performance.now())
  }

  async getJWK(kid: string): Promise<string> {
    const cached = this.loadedKey(kid)
    if (cached) return cached
    if (this.inflight || this.mayFetch()) await this.refresh()
    const pem = this.keys.get(kid)
    if (pem) return pem
    // Never loaded: an unknown kid says nothing of the token, only that the realm was not reached.
    throw this.loadedAt === Number.NEGATIVE_INFINITY ? new KeysUnavailableError() : new UnknownKeyError()
  }

  loadedKey(kid: string): string | undefined {
    const cached = this.keys.get(kid)
    if (cached && this.now() - this.loadedAt >= this.maxAgeMs && this.mayFetch()) void this.refresh()
    return cached
  }

  private mayFetch(): boolean {
    return this.now() - this.lastAttempt >= this.minRefreshIntervalMs
  }

  size(): number {
    return this.keys.size
  }

  /** Loads the keys now (start-up warm-up, readiness). Resolves false when the realm did not answer. */
  async refresh(): Promise<boolean> {
    if (!this.inflight) {
      // While it is in flight, callers share it; the interval counts from its answer, so a request
      // that left late (a busy start-up, a slow connect) brings the next one no closer than that.
      this.inflight = this.load().finally(() => {
        this.inflight = undefined
        this.lastAttempt = this.now()
      })
    }
    try {
      await this.inflight
      return true
    } catch {
      return false
    }
  }

  private async load(): Promise<void> {
    const response = await httpCall(this.url, { method: 'GET', timeoutMs: this.fetchTimeoutMs })
    if (!response.ok) {
      await response.discard()
      throw new Error(`JWKS answered ${response.status}`)
    }
    const body = (await response.json()) as { keys?: Jwk[] }
    const next = new Map<string, string>()
    for (const jwk of body.keys ?? []) {
      // Only RSA signing keys: keycloak-connect verifies RS256 alone, and an encryption key is no signing key.
      if (!jwk.kid || jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue
      next.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString())
    }
    this.keys = next
    this.loadedAt = this.now()
  }
}
