import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { DeletionError, type DeletionErrorKind, DeletionLimitReachedError, DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'
import type { AnyDialect } from './dialect.js'
import { type ErrorCode, errorEntry, fillPlaceholders, type PlaceholderValues } from './error-codes.js'

export interface RenderOptions extends PlaceholderValues {
  /** Who answers before an operation matched (unknown paths): the service's own dialect. */
  defaultDialect: AnyDialect
  /** The answer goes to the caller as built (the app's own error road): see ErrorAnswer.final. */
  final?: boolean
}

/** Domain errors know nothing of HTTP; each kind of them answers with one entry of the error table. */
const codeForKind: Readonly<Record<DeletionErrorKind, ErrorCode>> = {
  not_found: 'USER_NOT_FOUND',
  request_not_found: 'DELETION_REQUEST_NOT_FOUND',
  job_not_found: 'BATCH_JOB_NOT_FOUND',
  already_deleted: 'ALREADY_DELETED',
  not_deleted: 'USER_NOT_DELETED',
  erased: 'USER_ERASED',
  role_restricted: 'ROLE_RESTRICTED',
  forbidden: 'FORBIDDEN',
  // The lock-out's own answer: a locked-out person's token is refused as a forged one would be.
  locked_out: 'UNAUTHORIZED',
  limit_reached: 'DELETION_LIMIT_REACHED',
  unavailable: 'SERVICE_UNAVAILABLE',
}

export function codeFor(err: unknown): ErrorCode {
  if (err instanceof ApiError) return err.code
  if (err instanceof DeletionError) return codeForKind[err.kind]
  // hono's timeout middleware throws a 504 HTTPException: our contract answers a passed deadline with 503.
  if (err instanceof HTTPException && err.status === 504) return 'SERVICE_UNAVAILABLE'
  return 'SERVER_ERROR'
}

/**
 * The one error road (app.onError and app.notFound both end here): any thrown value becomes an
 * entry of the error table, sent with the entry's status and headers, its body rendered by the
 * operation's dialect. Never echoes err.message: driver and library messages carry ids and values.
 */
export function renderError(c: Context<AppEnv>, err: unknown, options: RenderOptions): Response {
  const code = codeFor(err)
  const entry = errorEntry(code)
  const log = c.get('log')
  c.set('errCode', entry.err)
  // A 500 is a bug: its stack goes to the log. Everything else is a refusal the caller can act on.
  if (entry.status === 500) {
    log?.error({ err, code: entry.err }, 'unexpected error')
  } else if (log?.isLevelEnabled('info')) {
    const dependency = err instanceof DependencyUnavailableError ? err.dependency : undefined
    // Worded by this service (contention, a request another runner holds): the operator's truth when the dependency itself answered.
    const why = err instanceof DependencyUnavailableError && err.cause instanceof WordedCause ? err.cause.message : undefined
    log.info({ code: entry.err, reason: err instanceof Error ? err.message : undefined, dependency, ...(why && { why }) }, 'request refused')
  }
  if (err instanceof ApiError) for (const [name, value] of Object.entries(err.headers)) c.header(name, value)
  const values = err instanceof ApiError && err.placeholders ? { ...options, ...err.placeholders } : options
  for (const [name, value] of Object.entries(entry.headers ?? {})) c.header(name, fillPlaceholders(value, values))
  // The guard knows when its hour ends: that, not the configured default, is when to come back.
  if (err instanceof DeletionLimitReachedError) c.header('Retry-After', String(err.retryAfterSeconds))
  const dialect = c.get('dialect') ?? options.defaultDialect
  const final = options.final === true
  return dialect.error(c, { code, entry, errmsg: fillPlaceholders(entry.errmsg, values), ...(err instanceof ApiError && err.result && { result: err.result }), final })
}
