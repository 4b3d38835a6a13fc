import type { ErrorCode } from '../error-codes.js'

/** What OpenAPI, the tests and the router know about one operation. */
export interface RouteMeta {
  /** Sunbird api id, e.g. api.user.delete. */
  apiId: string
  method: 'GET' | 'POST'
  /** The public path first, then aliases (e.g. the service path behind Sunbird's gateway). */
  paths: readonly string[]
  summary: string
  /** Longer prose for the API reference (Markdown). */
  description?: string
  /** $id of the request body schema in schemas/, when the operation takes a body. */
  requestSchema?: string
  /** $id of the success envelope schema in schemas/. */
  responseSchema: string
  /** Every error the operation can answer with. */
  errors: readonly ErrorCode[]
  /** Errors whose body is not the plain error envelope (error.response), by code: the $id of their schema. */
  errorSchemas?: Partial<Record<ErrorCode, string>>
  /** Whether both credentials (gateway JWT + user token) are required. */
  authenticated: boolean
}
