import type { ErrorCode } from '../error-codes.js'
import { restDialect } from './rest-dialect.js'

/** NestJS's words (its HttpException defaults and the seed's own); other entries say the table's message. */
const MESSAGE: Partial<Record<ErrorCode, string>> = {
  USER_NOT_FOUND: 'User not found',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'Forbidden resource',
  METHOD_NOT_ALLOWED: 'Method Not Allowed',
  SERVICE_UNAVAILABLE: 'Service Unavailable',
  SERVER_ERROR: 'Internal server error',
}

/**
 * The answers of a NestJS controller (seed 001): 204 with no body, every error
 * `{"statusCode": n, "message": "…"}`; a malformed id is its ValidationPipe's 400 with `errors`.
 */
export const nestError = restDialect({
  name: 'nest-error',
  success: { status: 204 },
  errorSchema: 'nest.error',
  errorBody({ code, entry, errmsg }) {
    if (code === 'INVALID_USER_ID') return { statusCode: entry.status, message: 'Validation failed', errors: ['id must be a valid UUID'] }
    return { statusCode: entry.status, message: MESSAGE[code] ?? errmsg }
  },
})
