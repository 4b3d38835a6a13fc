import { createHmac, sign, type KeyObject } from 'node:crypto'

type SigningKey = { hs256: string } | { rs256: KeyObject | string }

/** Signs a compact JWS. Used by the quick start (API bearer) and the tests (both credentials). */
export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: SigningKey): string {
  return signJwtText(JSON.stringify(header), JSON.stringify(payload), key)
}

/** Signs header and payload given as JSON text, byte for byte: for tests of what JSON.stringify cannot write (duplicate names, 1e400). */
export function signJwtText(header: string, payload: string, key: SigningKey): string {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`
  const signature = 'hs256' in key ? createHmac('sha256', key.hs256).update(input).digest() : sign('RSA-SHA256', Buffer.from(input), key.rs256)
  return `${input}.${signature.toString('base64url')}`
}

/** A gateway consumer JWT the way Kong's jwt plugin expects it: iss = consumer key, exp set. */
export function signApiBearer(consumerKey: string, secret: string, ttlSeconds = 86_400): string {
  const now = Math.floor(Date.now() / 1000)
  return signJwt({ alg: 'HS256', typ: 'JWT' }, { iss: consumerKey, iat: now, exp: now + ttlSeconds }, { hs256: secret })
}
