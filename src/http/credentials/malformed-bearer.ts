import { bearerToken } from '../../auth/compact-jwt.js'
import { ApiError } from '../api-error.js'

/** A Bearer credential with something after the scheme, anywhere in the header (a second header arrives after a comma). */
const BEARER_CREDENTIAL = /(?:^|,)\s*Bearer\s+\S/i

/**
 * RFC 6750 §3.1: an Authorization header that names the Bearer scheme but does not hold exactly
 * one token (two Authorization headers, which arrive joined by `, `; a token with a space in it) is
 * a malformed request, `invalid_request` (400). Answered as a missing token (a bare `Bearer`
 * challenge) it would send the client for a new token, and the same request again. A header of
 * another scheme, or `Bearer` with nothing after it, stays a missing token (§3: no error code).
 */
export function refuseMalformedBearer(header: string | undefined): void {
  if (header === undefined || bearerToken(header) !== undefined || !BEARER_CREDENTIAL.test(header)) return
  throw new ApiError('MALFORMED_AUTHORIZATION', { reason: 'authorization: not one bearer token' })
}
