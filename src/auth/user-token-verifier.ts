import { createPublicKey, type KeyObject } from 'node:crypto'
import Keycloak from 'keycloak-connect'
import { InvalidCredentialsError } from './auth-errors.js'
import type { ScopedRole } from '../deletion/caller.js'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { type CompactJwt, checkTimeClaims, parseCompactJwt } from './compact-jwt.js'
import { type KeySource, KeysUnavailableError } from './key-source.js'
import { userIdOfSubject } from './token-subject.js'
import { VerifiedTokenCache } from './verified-token-cache.js'

export interface VerifiedUserToken {
  /** The id in `sub`: the plain id, or <id> of f:<provider>:<id>. */
  userId: string
  roles: ScopedRole[]
  parentId?: string
  /** `auth_time`: when the person last logged in (seconds since the epoch), if the token says and it is not later than now plus the clock skew. */
  authTime?: number
  /** `sid`: the Keycloak session the token was issued in. */
  sessionId?: string
  /** `azp`: the Keycloak client the token was issued to. */
  clientId?: string
}

export interface UserTokenVerifierOptions {
  /** Sunbird's sunbird_sso_url, without trailing slash. */
  ssoUrl: string
  realm: string
  keys: KeySource
  /** Bound on one verification, key loading included. */
  timeoutMs?: number
  /** How far ahead of ours the issuer's clock may be (`iat`); 60 s when not given. */
  clockSkewSeconds?: number
  /** Sunbird's sunbird_keycloak_user_federation_provider_id: the only provider a federated `sub` may name, when set. */
  federationProviderId?: string
}

/** A token that passed every check: what it verified to, its claims for the time checks, and the realm key that signed it. */
interface VerifiedEntry {
  token: VerifiedUserToken
  payload: Record<string, unknown>
  kid: string
  pem: string
}

/** About two thousand Keycloak access tokens: the people active within a token's lifetime on a busy instance. */
const CACHED_TOKEN_CHARS = 2 * 1024 * 1024

/** A copy the caller may change without changing what the next request with the same token gets. */
function copyOf(token: VerifiedUserToken): VerifiedUserToken {
  return { ...token, roles: token.roles.map((role) => ({ ...role, organisationIds: [...role.organisationIds] })) }
}

/**
 * A body's userId, already shaped by schemas/user-id.json (a UUID, optionally f:<provider>:<uuid>),
 * reduced to the id the way Sunbird's getLmsUserId does. Tokens are read by userIdOfSubject, which
 * refuses every other shape.
 */
export function userIdFromSubject(sub: string): string {
  return sub.slice(sub.lastIndexOf(':') + 1)
}

function readRoles(claim: unknown): ScopedRole[] {
  if (!Array.isArray(claim)) return []
  return claim.flatMap((entry): ScopedRole[] => {
    if (typeof entry !== 'object' || entry === null || typeof (entry as { role?: unknown }).role !== 'string') return []
    const scope = (entry as { scope?: unknown }).scope
    const organisationIds = Array.isArray(scope) ? scope.map((s) => (s as { organisationId?: unknown } | null)?.organisationId).filter((id): id is string => typeof id === 'string') : []
    return [{ role: (entry as { role: string }).role, organisationIds }]
  })
}

/**
 * Verifies a Keycloak access token with keycloak-connect's GrantManager (signature RS256 by kid,
 * exp, typ Bearer, iss = <sso url>/realms/<realm>) and adds what the adapter skips: the alg
 * allow-list, a required kid and exp, nbf, and a time bound.
 */
export class UserTokenVerifier {
  private readonly grantManager: Keycloak.GrantManager
  private readonly timeoutMs: number
  private readonly clockSkewSeconds: number
  private readonly subjectRules: { federationProviderId?: string }
  private readonly keys: KeySource
  /** Successes only: a refusal is always decided again. */
  private readonly verified = new VerifiedTokenCache<VerifiedEntry>(CACHED_TOKEN_CHARS)

  constructor(options: UserTokenVerifierOptions) {
    const keycloak = new Keycloak({}, {
      realm: options.realm,
      'auth-server-url': options.ssoUrl,
      resource: 'sunbird-user-delete',
      'bearer-only': true,
      'ssl-required': 'external',
      'confidential-port': 0,
    } as unknown as Keycloak.KeycloakConfig)
    this.grantManager = keycloak.grantManager
    this.keys = options.keys
    // The adapter's own Rotation has no fetch timeout and fails badly on unknown kids; ours is a drop-in.
    // It hands the adapter a parsed KeyObject: given a PEM string, OpenSSL parses it again on every
    // verification (about 150 µs against 24 µs, measured), the largest cost of a valid request.
    const parsed = new Map<string, KeyObject>()
    const rotation = {
      getJWK: async (kid: string): Promise<KeyObject> => {
        const pem = await options.keys.getJWK(kid)
        let key = parsed.get(pem)
        if (!key) {
          key = createPublicKey(pem)
          parsed.set(pem, key)
        }
        return key
      },
    }
    ;(this.grantManager as unknown as { rotation: typeof rotation }).rotation = rotation
    this.timeoutMs = options.timeoutMs ?? 3000
    this.clockSkewSeconds = options.clockSkewSeconds ?? 60
    this.subjectRules = options.federationProviderId ? { federationProviderId: options.federationProviderId } : {}
  }

  async verify(raw: string, credential: 'user-token' | 'for-token' = 'user-token', nowSeconds = Date.now() / 1000): Promise<VerifiedUserToken> {
    // The same token again skips the RS256 check while its key is still the realm's; the clock is read every time.
    const known = this.verified.get(raw)
    if (known !== undefined && this.keys.loadedKey(known.kid) === known.pem) {
      checkTimeClaims(known.payload, credential, { nowSeconds, clockSkewSeconds: this.clockSkewSeconds })
      return copyOf(known.token)
    }
    const jwt = parseCompactJwt(raw, credential)
    const token = await this.verifyFully(raw, jwt, credential, nowSeconds)
    this.remember(raw, jwt, token)
    return token
  }

  private async verifyFully(raw: string, jwt: CompactJwt, credential: 'user-token' | 'for-token', nowSeconds: number): Promise<VerifiedUserToken> {
    if (jwt.header.alg !== 'RS256') throw new InvalidCredentialsError(credential, 'algorithm not allowed')
    if (typeof jwt.header.kid !== 'string' || jwt.header.kid === '') throw new InvalidCredentialsError(credential, 'no kid')
    checkTimeClaims(jwt.payload, credential, { nowSeconds, clockSkewSeconds: this.clockSkewSeconds })
    await this.validateWithAdapter(raw, jwt.header.kid, credential)
    const { sub, roles, parentId, auth_time: authTime, sid, azp } = jwt.payload
    if (typeof sub !== 'string' || sub === '') throw new InvalidCredentialsError(credential, 'no sub')
    const userId = userIdOfSubject(sub, this.subjectRules)
    if (userId === undefined) throw new InvalidCredentialsError(credential, 'sub is neither an id nor f:<provider>:<id>')
    // When the person logged in, and in which Keycloak session (step-up reads them). A login later
    // than now plus the clock skew (a realm clock ahead, as for iat) is no login time we know: were
    // it kept, step-up would take it as recent for the token's whole life.
    const loginTime = typeof authTime === 'number' && Number.isFinite(authTime) && authTime <= nowSeconds + this.clockSkewSeconds ? authTime : undefined
    const login = {
      ...(loginTime !== undefined && { authTime: loginTime }),
      ...(typeof sid === 'string' && sid !== '' && { sessionId: sid }),
      ...(typeof azp === 'string' && azp !== '' && { clientId: azp }),
    }
    // A parentId that is no string is no parent, as before; a string must have a subject's shape.
    if (typeof parentId !== 'string' || parentId === '') return { userId, roles: readRoles(roles), ...login }
    const parent = userIdOfSubject(parentId, this.subjectRules)
    if (parent === undefined) throw new InvalidCredentialsError(credential, 'parentId is neither an id nor f:<provider>:<id>')
    return { userId, roles: readRoles(roles), parentId: parent, ...login }
  }

  /**
   * Keeps a success with the key that verified it, as the source serves it right after the check;
   * a hit is used only while the source still serves that key (a key the realm removed stops
   * verifying here too).
   */
  private remember(raw: string, jwt: CompactJwt, token: VerifiedUserToken): void {
    const kid = jwt.header.kid as string
    const pem = this.keys.loadedKey(kid)
    if (pem !== undefined) this.verified.set(raw, { token: copyOf(token), payload: jwt.payload, kid, pem })
  }

  /**
   * The realm's keys must have been loaded for any verdict: the adapter wraps every failure to get a
   * key as an invalid token, so a realm never reached since start would answer good tokens 401. Any
   * other failure is left for the adapter to give its own reason (the key then served from cache).
   */
  private async keyLoadable(kid: string): Promise<void> {
    try {
      await this.keys.getJWK(kid)
    } catch (err) {
      if (err instanceof KeysUnavailableError) throw new DependencyUnavailableError('keycloak', { cause: err })
    }
  }

  private async validateWithAdapter(raw: string, kid: string, credential: 'user-token' | 'for-token'): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      // Still no key at the deadline (the realm's key fetch hanging since start): Keycloak is unavailable, the token is not judged.
      timer = setTimeout(() => reject(this.keys.size() === 0 ? new DependencyUnavailableError('keycloak') : new InvalidCredentialsError(credential, 'verification timed out')), this.timeoutMs)
    })
    try {
      await Promise.race([this.keyLoadable(kid).then(() => this.grantManager.createGrant({ access_token: raw as unknown as Keycloak.Token })), deadline])
    } catch (err) {
      if (err instanceof InvalidCredentialsError || err instanceof DependencyUnavailableError) throw err
      // The adapter's reasons ("invalid token (wrong ISS)") are safe to log: they carry no token content.
      throw new InvalidCredentialsError(credential, err instanceof Error ? err.message : 'rejected')
    } finally {
      clearTimeout(timer)
    }
  }
}
