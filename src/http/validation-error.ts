import type { ErrorObject } from 'ajv'
import { ApiError } from './api-error.js'
import { errorCodes, type ErrorCode } from './error-codes.js'

const isErrorCode = (name: string | undefined): name is ErrorCode => name !== undefined && Object.hasOwn(errorCodes, name)

/**
 * The schema names the error-table entry of each keyword (`x-error-codes` beside it), so the
 * mapping from a failed keyword to UOS_USRDLT00xx lives in schemas/, not here. A test resolves
 * every name against the table.
 */
export function errorCodeFor(error: ErrorObject): ErrorCode {
  const annotated = (error.parentSchema as { 'x-error-codes'?: Record<string, string> } | undefined)?.['x-error-codes']
  const named = annotated?.[error.keyword]
  return isErrorCode(named) ? named : 'INVALID_REQUEST_DATA'
}

/** The error a failed validation answers with: the entry the first failing keyword names, the keyword (no value) for the log. */
export function validationError(errors: ErrorObject[] | null | undefined): ApiError {
  const first = errors?.[0]
  return new ApiError(first ? errorCodeFor(first) : 'INVALID_REQUEST_DATA', { reason: first ? `${first.instancePath || '/'} ${first.keyword}` : 'invalid body' })
}
