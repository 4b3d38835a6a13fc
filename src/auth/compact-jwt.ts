import { InvalidCredentialsError } from './auth-errors.js'

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

function decodeJson(part: string, credential: InvalidCredentialsError['credential']): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {
    // fall through
  }
  throw new InvalidCredentialsError(credential, 'malformed token')
}

/** Splits and decodes a JWS compact token without trusting any of it. */
export function parseCompactJwt(raw: string, credential: InvalidCredentialsError['credential']): CompactJwt {
  if (raw.length > MAX_TOKEN_LENGTH) throw new InvalidCredentialsError(credential, 'token too long')
  const parts = raw.split('.')
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part)) || !parts[0] || !parts[1]) {
    throw new InvalidCredentialsError(credential, 'malformed token')
  }
  const [header, payload, signature] = parts as [string, string, string]
  return {
    header: decodeJson(header, credential),
    payload: decodeJson(payload, credential),
    signingInput: `${header}.${payload}`,
    signature: Buffer.from(signature, 'base64url'),
  }
}

/** exp required and in the future; nbf, when present, not in the future (seconds since epoch). */
export function checkTimeClaims(payload: Record<string, unknown>, credential: InvalidCredentialsError['credential'], nowSeconds: number): void {
  const { exp, nbf } = payload
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new InvalidCredentialsError(credential, 'no exp')
  if (exp <= nowSeconds) throw new InvalidCredentialsError(credential, 'expired')
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds)) throw new InvalidCredentialsError(credential, 'not yet valid')
}

/** Reads `Bearer <token>` (scheme case-insensitive, as RFC 6750 allows). */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer +([^\s]+)\s*$/i)
  return match?.[1]
}
