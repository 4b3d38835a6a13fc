import type { ErrorCode } from '../error-codes.js'
import { restDialect } from './rest-dialect.js'

/** Django REST framework's words, where the seeds' clients read them; other entries say the table's message. */
const DETAIL: Partial<Record<ErrorCode, string>> = {
  USER_NOT_FOUND: 'User not found',
  ALREADY_DELETED: 'The user has already been soft deleted',
  UNAUTHORIZED: 'Authentication credentials were not provided or are not valid.',
  FORBIDDEN: 'You do not have permission to perform this action.',
  SERVICE_UNAVAILABLE: 'Service temporarily unavailable, try again later.',
  SERVER_ERROR: 'A server error occurred.',
}

/**
 * The answers of a Django REST framework view (seeds 000 and 003): 204 with no body, every error
 * `{"detail": "…"}`, a 405 as DRF words it.
 */
export const drfDetail = restDialect({
  name: 'drf-detail',
  success: { status: 204 },
  errorSchema: 'drf-detail.error',
  errorBody({ code, errmsg, method }) {
    if (code === 'METHOD_NOT_ALLOWED') return { detail: `Method "${method}" not allowed.` }
    return { detail: DETAIL[code] ?? errmsg }
  },
})
