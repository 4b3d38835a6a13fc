import type { Context } from 'hono'
import { bearerToken } from '../../auth/compact-jwt.js'
import type { AppEnv } from '../app-env.js'

/**
 * RFC 6750 §3's challenge of a 401 on a route that takes its credentials as `Authorization: Bearer`
 * (RFC 9110 requires one on every 401): bare when no bearer token was sent, `invalid_token` when
 * the one sent was refused (forged, expired, or its person deleted). The reason stays in the log.
 */
export function bearerChallenge(c: Context<AppEnv>): string {
  return bearerToken(c.req.header('authorization')) === undefined ? 'Bearer' : 'Bearer error="invalid_token"'
}
