import { STATUS_CODES } from 'node:http'
import type { ErrorCode } from '../error-codes.js'
import { restDialect } from './rest-dialect.js'

/** The seed's words; other entries say the table's message. */
const MESSAGE: Partial<Record<ErrorCode, string>> = {
  INVALID_USER_ID: 'Invalid user ID format',
  USER_NOT_FOUND: 'User not found',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'You may delete only your own account',
  SERVICE_UNAVAILABLE: 'Service unavailable, try again later',
  SERVER_ERROR: 'Failed to delete user',
}

/**
 * The answers of a Nuxt server route (seed 002, h3's createError): 200 with the JSON `true`, every
 * error `{"statusCode": n, "statusMessage": "<HTTP reason phrase>", "data": {"message": "…"}}`.
 */
export const nuxtError = restDialect({
  name: 'nuxt-error',
  success: { status: 200, body: true, schema: 'session-user-delete.response' },
  errorSchema: 'nuxt.error',
  errorBody({ code, entry, errmsg }) {
    return { statusCode: entry.status, statusMessage: STATUS_CODES[entry.status] ?? 'Error', data: { message: MESSAGE[code] ?? errmsg } }
  },
})
