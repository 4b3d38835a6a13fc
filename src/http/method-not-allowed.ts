import { ApiError } from './api-error.js'

/**
 * The service's one 405: a path that exists, asked with a method it does not serve. Its `Allow` is
 * the error table's header of METHOD_NOT_ALLOWED (the OpenAPI document lists it from there), filled
 * with the methods the path serves.
 */
export function methodNotAllowed(methods: readonly string[]): ApiError {
  return new ApiError('METHOD_NOT_ALLOWED', { placeholders: { allow: methods.join(', ') } })
}
