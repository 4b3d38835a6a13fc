import type { Hono, MiddlewareHandler } from 'hono'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'
import { setCredentialedCors } from './cors.js'
import { IDEMPOTENCY_KEY_HEADER } from './idempotency.js'
import { bodyLimitOf, type HandlerContext, type Operation } from './operation.js'
import { readJsonBody } from './read-json-body.js'

/** Headers every preflight allows besides the credential scheme's and the operation's own. */
const BODY_HEADERS = ['Content-Type']
const REQUEST_ID_HEADERS = ['X-Request-ID', 'X-msgId']

/** First on an operation's chain: its id (the envelope id) and its dialect, for the answer and for any error; then its own headers on whatever it answers. */
function operationContext(operation: Operation, allowedOrigins: () => readonly string[]): MiddlewareHandler<AppEnv> {
  const headers = Object.entries({
    ...operation.responseHeaders,
    ...(operation.cors.exposeHeaders && { 'Access-Control-Expose-Headers': operation.cors.exposeHeaders.join(', ') }),
  })
  // A chained promise, not an async function: one promise less on every request (see request-context.ts).
  return function enterOperation(c, next) {
    c.set('apiId', operation.id)
    c.set('dialect', operation.dialect)
    return next().then(() => {
      for (const [name, value] of headers) c.res.headers.set(name, value)
      if (operation.cors.credentialed) setCredentialedCors(c, allowedOrigins(), c.res.headers)
    })
  }
}

const unique = (values: readonly string[]) => [...new Set(values)]

/** Whether a preflight's Access-Control-Request-Headers names `header` (case-insensitive list). */
function asksFor(requested: string | undefined, header: string): boolean {
  const wanted = header.toLowerCase()
  return (requested ?? '').split(',').some((name) => name.trim().toLowerCase() === wanted)
}

/**
 * Registers every operation from its declaration: its method on each of its paths; then, per path,
 * the CORS preflight (when an operation there asks for one) and 405 with `Allow` for every other
 * method, in the dialect of the path's first operation. Unknown paths fall to app.notFound (404).
 */
export function registerOperations(app: Hono<AppEnv>, operations: readonly Operation[], context: HandlerContext & { maxBodyBytes: number }): void {
  const byPath = new Map<string, Operation[]>()
  // Read only where a credentialed operation answers (SESSION_ALLOWED_ORIGINS).
  const allowedOrigins = () => context.verifiers.sessionCookie.allowedOrigins
  for (const operation of operations) {
    const chain: MiddlewareHandler<AppEnv>[] = [operationContext(operation, allowedOrigins)]
    // Size, then JSON, before the credentials: the order of checks Sunbird's callers see.
    if (operation.request.body) chain.push(readJsonBody({ maxBytes: bodyLimitOf(operation, context.maxBodyBytes) }))
    const handler = operation.createHandler(context)
    for (const path of operation.paths) {
      app.on(operation.method, [path], ...chain, handler)
      byPath.set(path, [...(byPath.get(path) ?? []), operation])
    }
  }

  for (const [path, served] of byPath) {
    const first = served[0] as Operation
    const preflights = served.filter((operation) => operation.cors.preflight)
    const allow = [...unique(served.map((operation) => operation.method)), ...(preflights.length > 0 ? ['OPTIONS'] : [])].join(', ')
    if (preflights.length > 0) {
      const allowHeaders = unique(preflights.flatMap((operation) => [...BODY_HEADERS, ...operation.credentials.headers, ...REQUEST_ID_HEADERS, ...(operation.cors.preflight?.headers ?? [])])).join(
        ', ',
      )
      const isIdempotent = preflights.some((operation) => operation.idempotent)
      const credentialed = preflights.some((operation) => operation.cors.credentialed)
      const maxAge = String(Math.min(...preflights.map((operation) => operation.cors.preflight?.maxAgeSeconds ?? 0)))
      app.options(path, (c) => {
        c.header('Access-Control-Allow-Methods', allow)
        // Idempotency-Key is allowed when the browser asks for it: a preflight that does not name it
        // gets the same header list Sunbird's callers always got.
        const asksForKey = isIdempotent && asksFor(c.req.header('access-control-request-headers'), IDEMPOTENCY_KEY_HEADER)
        c.header('Access-Control-Allow-Headers', asksForKey ? `${allowHeaders}, ${IDEMPOTENCY_KEY_HEADER}` : allowHeaders)
        c.header('Access-Control-Max-Age', maxAge)
        const response = c.body(null, 204)
        if (credentialed) setCredentialedCors(c, allowedOrigins(), response.headers)
        return response
      })
    }
    app.all(path, operationContext(first, allowedOrigins), () => {
      throw new ApiError('METHOD_NOT_ALLOWED', { headers: { Allow: allow } })
    })
  }
}
