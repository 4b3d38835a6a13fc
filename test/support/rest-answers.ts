import { expect } from 'vitest'
import { type ErrorCode, errorEntry } from '../../src/http/error-codes.js'

/**
 * The error bodies the clients of other deletion APIs read, spelled out here (not taken from the
 * renderer), by dialect and error-table entry: the seeds' own words where they document them.
 */
export const REST_ERROR_BODIES: Record<string, Partial<Record<ErrorCode, unknown>>> = {
  'drf-detail': {
    USER_NOT_FOUND: { detail: 'User not found' },
    ALREADY_DELETED: { detail: 'The user has already been soft deleted' },
    UNAUTHORIZED: { detail: 'Authentication credentials were not provided or are not valid.' },
    STEP_UP_REQUIRED: { detail: 'A more recent login is required to delete this account.' },
    FORBIDDEN: { detail: 'You do not have permission to perform this action.' },
    MANAGED_USER_TOKEN_REFUSED: { detail: 'X-Authenticated-For is not a valid token of a user you manage.' },
    MALFORMED_AUTHORIZATION: { detail: 'Authorization should be one header: Bearer and one token.' },
    SERVICE_UNAVAILABLE: { detail: 'Service temporarily unavailable, try again later.' },
    SERVER_ERROR: { detail: 'A server error occurred.' },
  },
  'nest-error': {
    INVALID_USER_ID: { statusCode: 400, message: 'Validation failed', errors: ['id must be a valid UUID'] },
    USER_NOT_FOUND: { statusCode: 404, message: 'User not found' },
    UNAUTHORIZED: { statusCode: 401, message: 'Unauthorized' },
    FORBIDDEN: { statusCode: 403, message: 'Forbidden resource' },
    MALFORMED_AUTHORIZATION: { statusCode: 400, message: 'Authorization should be one header: Bearer and one token.' },
    SERVICE_UNAVAILABLE: { statusCode: 503, message: 'Service Unavailable' },
    SERVER_ERROR: { statusCode: 500, message: 'Internal server error' },
  },
  'nuxt-error': {
    INVALID_USER_ID: { statusCode: 400, statusMessage: 'Bad Request', data: { message: 'Invalid user ID format' } },
    USER_NOT_FOUND: { statusCode: 404, statusMessage: 'Not Found', data: { message: 'User not found' } },
    UNAUTHORIZED: { statusCode: 401, statusMessage: 'Unauthorized', data: { message: 'Unauthorized' } },
    STEP_UP_REQUIRED: { statusCode: 401, statusMessage: 'Unauthorized', data: { message: 'A more recent login is required to delete this account.' } },
    FORBIDDEN: { statusCode: 403, statusMessage: 'Forbidden', data: { message: 'You may delete only your own account' } },
    CROSS_SITE_REQUEST: { statusCode: 403, statusMessage: 'Forbidden', data: { message: 'Cross-site request refused.' } },
    SERVICE_UNAVAILABLE: { statusCode: 503, statusMessage: 'Service Unavailable', data: { message: 'Service unavailable, try again later' } },
    SERVER_ERROR: { statusCode: 500, statusMessage: 'Internal Server Error', data: { message: 'Failed to delete user' } },
  },
}

/** Asserts an error answer of a REST dialect: the entry's status, JSON, the exact body (no extra keys), X-Request-Id. */
export async function expectRestError(dialect: string, response: Response, code: ErrorCode): Promise<void> {
  const expected = REST_ERROR_BODIES[dialect]?.[code]
  if (expected === undefined) throw new Error(`no expected body for ${code} in dialect ${dialect}: add it to test/support/rest-answers.ts`)
  const text = await response.text()
  expect(response.status, text).toBe(errorEntry(code).status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  expect(JSON.parse(text)).toStrictEqual(expected)
  expect(response.headers.get('x-request-id')).toMatch(/^[\x21-\x7e]{1,255}$/)
}
