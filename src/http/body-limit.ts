import type { Context } from 'hono'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'

/**
 * The 413 names the limit it met: an operation may read more than HTTP_MAX_BODY_BYTES (bodyLimitOf).
 * Its entry closes the connection: the body it refuses is never read whole (error-codes.ts).
 */
export const tooLarge = (reason: string, maxBytes: number) => new ApiError('PAYLOAD_TOO_LARGE', { reason, placeholders: { maxBodyBytes: maxBytes } })

/**
 * The body's declared length (Content-Length without Transfer-Encoding), refused before a byte is
 * read when it is over `maxBytes` (413) or not a number of bytes (400); undefined when the request
 * declares none (a chunked body, or no body).
 */
export function declaredLengthWithin(c: Context<AppEnv>, maxBytes: number): number | undefined {
  const length = c.req.header('content-length')
  if (length === undefined || c.req.header('transfer-encoding') !== undefined) return undefined
  // Digits of any length: a length too long to be exact is still over the limit (413, not 400).
  if (!/^\d+$/.test(length)) throw new ApiError('INVALID_REQUEST_DATA', { reason: 'bad content-length' })
  if (Number(length) > maxBytes) throw tooLarge('content-length over the limit', maxBytes)
  return Number(length)
}

/**
 * A route that takes no body reads none and waits for none (no 100 Continue either): a declared
 * length over `maxBytes` is refused (413), a smaller body is discarded by the server after the
 * answer, as it always was. A chunked body's length is not known until it has all come: true when
 * its answer must close the connection rather than wait for, and read, the rest.
 */
export function ignoreBodyWithin(c: Context<AppEnv>, maxBytes: number): boolean {
  declaredLengthWithin(c, maxBytes)
  return c.req.header('transfer-encoding') !== undefined
}
