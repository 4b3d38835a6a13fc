import { type Credential, InvalidCredentialsError } from './auth-errors.js'
import { hasDuplicateMemberName } from './duplicate-member-names.js'

export interface CompactJwt {
  header: Record<string, unknown>
  payload: Record<string, unknown>
  /** `header.payload`, the bytes the signature covers. */
  signingInput: string
  signature: Buffer
}

// Far above any real Keycloak token, far below anything that costs us to parse.
const MAX_TOKEN_LENGTH = 16384
const BASE64URL = /^[A-Za-z0-9_-]*$/
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * JOSE header extensions this service understands and enforces. None: a token whose `crit` names
 * any extension must be refused (RFC 7515 §4.1.11). An extension joins here only with the code
 * that checks it.
 */
const SUPPORTED_CRITICAL_EXTENSIONS: ReadonlySet<string> = new Set()

/**
 * One part of the token as a JSON object, refusing what a lenient decoder would let through: a
 * base64url length no encoder produces, bytes that are not UTF-8 (RFC 7515 §3), anything but an
 * object, and an object that names a member twice (RFC 7519 §4; JSON.parse would keep the last
 * `sub` of `{"sub":"me","sub":"victim"}`).
 */
function decodeJson(part: string, credential: Credential): Record<string, unknown> {
  if (part.length % 4 === 1) throw new InvalidCredentialsError(credential, 'malformed token')
  let text: string
  let value: unknown
  try {
    text = utf8.decode(Buffer.from(part, 'base64url'))
    value = JSON.parse(text)
  } catch {
    throw new InvalidCredentialsError(credential, 'malformed token')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidCredentialsError(credential, 'malformed token')
  if (hasDuplicateMemberName(text)) throw new InvalidCredentialsError(credential, 'duplicate member name')
  return value as Record<string, unknown>
}

/** `crit`, when present, must be a non-empty list of extension names this service implements. */
function checkCritical(header: Record<string, unknown>, credential: Credential): void {
  if (!('crit' in header)) return
  const { crit } = header
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((name) => typeof name === 'string' && SUPPORTED_CRITICAL_EXTENSIONS.has(name))) {
    throw new InvalidCredentialsError(credential, 'crit names an unsupported extension')
  }
}

/** Splits and decodes a JWS compact token without trusting any of it; refuses what no standard token looks like. */
export function parseCompactJwt(raw: string, credential: Credential): CompactJwt {
  if (raw.length > MAX_TOKEN_LENGTH) throw new InvalidCredentialsError(credential, 'token too long')
  const parts = raw.split('.')
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part)) || !parts[0] || !parts[1]) {
    throw new InvalidCredentialsError(credential, 'malformed token')
  }
  const [header, payload, signature] = parts as [string, string, string]
  if (signature.length % 4 === 1) throw new InvalidCredentialsError(credential, 'malformed token')
  const jwt = {
    header: decodeJson(header, credential),
    payload: decodeJson(payload, credential),
    signingInput: `${header}.${payload}`,
    signature: Buffer.from(signature, 'base64url'),
  }
  checkCritical(jwt.header, credential)
  return jwt
}

/** A NumericDate (RFC 7519 §2) when present: a finite JSON number, nothing else. */
function numericDate(payload: Record<string, unknown>, claim: 'exp' | 'nbf' | 'iat', credential: Credential): number | undefined {
  const value = payload[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidCredentialsError(credential, `${claim} is not a number`)
  return value
}

export interface TimeRules {
  nowSeconds: number
  /** How far ahead of our clock the issuer's may be: `iat` up to now + this is accepted. */
  clockSkewSeconds: number
}

/**
 * exp required and in the future; nbf, when present, not in the future; iat, when present, not
 * later than now plus the allowed clock skew (a token "issued" in the future was minted with a
 * wrong clock or to outlive its key). exp and nbf get no leeway, as Sunbird reads exp.
 */
export function checkTimeClaims(payload: Record<string, unknown>, credential: Credential, rules: TimeRules): void {
  const exp = numericDate(payload, 'exp', credential)
  const nbf = numericDate(payload, 'nbf', credential)
  const iat = numericDate(payload, 'iat', credential)
  if (exp === undefined) throw new InvalidCredentialsError(credential, 'no exp')
  if (exp <= rules.nowSeconds) throw new InvalidCredentialsError(credential, 'expired')
  if (nbf !== undefined && nbf > rules.nowSeconds) throw new InvalidCredentialsError(credential, 'not yet valid')
  if (iat !== undefined && iat > rules.nowSeconds + rules.clockSkewSeconds) throw new InvalidCredentialsError(credential, 'issued in the future')
}

/** Reads `Bearer <token>` (scheme case-insensitive, as RFC 6750 allows). */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer +([^\s]+)\s*$/i)
  return match?.[1]
}
