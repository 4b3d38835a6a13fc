import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { DeletionError, type DeletionErrorKind, DependencyUnavailableError } from '../deletion/errors.js'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'
import { errorEnvelope } from './envelope.js'
import { errorCodes, type ErrorCode } from './error-codes.js'

export interface RenderOptions {
  maxBodyBytes: number
  retryAfterSeconds: number
}

/** Domain errors know nothing of HTTP; each kind of them answers with one entry of the error table. */
const codeForKind: Readonly<Record<DeletionErrorKind, ErrorCode>> = {
  not_found: 'USER_NOT_FOUND',
  request_not_found: 'DELETION_REQUEST_NOT_FOUND',
  already_deleted: 'ALREADY_DELETED',
  role_restricted: 'ROLE_RESTRICTED',
  forbidden: 'FORBIDDEN',
  unavailable: 'SERVICE_UNAVAILABLE',
}

function codeFor(err: unknown): ErrorCode {
  if (err instanceof ApiError) return err.code
  if (err instanceof DeletionError) return codeForKind[err.kind]
  // hono's timeout middleware throws a 504 HTTPException: our contract answers a passed deadline with 503.
  if (err instanceof HTTPException && err.status === 504) return 'SERVICE_UNAVAILABLE'
  return 'SERVER_ERROR'
}

/**
 * The single error-to-envelope mapping (app.onError and app.notFound both end here). Never echoes
 * err.message: driver and library messages carry ids and values. The 403 is Sunbird's plain text.
 */
export function renderError(c: Context<AppEnv>, err: unknown, options: RenderOptions): Response {
  const code = codeFor(err)
  const entry = errorCodes[code]
  const log = c.get('log')
  c.set('errCode', entry.err)
  if (code === 'SERVER_ERROR') {
    log?.error({ err, code: entry.err }, 'unexpected error')
  } else {
    log?.info({ code: entry.err, reason: err instanceof Error ? err.message : undefined, dependency: err instanceof DependencyUnavailableError ? err.dependency : undefined }, 'request refused')
  }
  if (err instanceof ApiError) for (const [name, value] of Object.entries(err.headers)) c.header(name, value)
  if (code === 'FORBIDDEN') {
    c.header('x-request-allowed', 'no')
    return c.text(entry.errmsg, 403)
  }
  if (code === 'SERVICE_UNAVAILABLE') c.header('Retry-After', String(options.retryAfterSeconds))
  const errmsg = entry.errmsg.replace('{limit}', String(options.maxBodyBytes))
  return c.json(errorEnvelope(c.get('apiId') ?? 'api.unknown', c.get('msgid'), entry, errmsg), entry.status)
}
