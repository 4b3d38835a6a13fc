import type { Context, Handler, Hono } from 'hono'
import type { AppEnv } from './app-env.js'
import { ignoreBodyWithin } from './body-limit.js'
import { setCredentialedCors } from './cors.js'
import { REQUEST_ID_HEADER } from './dialects/rest-dialect.js'
import { IDEMPOTENCY_KEY_HEADER } from './idempotency.js'
import { methodNotAllowed } from './method-not-allowed.js'
import { bodyLimitOf, type HandlerContext, type Operation } from './operation.js'
import { type JsonBodyReader, readJsonBody } from './read-json-body.js'

/** Headers every preflight allows besides the credential scheme's and the operation's own. */
const BODY_HEADERS = ['Content-Type']
const REQUEST_ID_HEADERS = ['X-Request-ID', 'X-msgId']

/** How an operation takes the request's body: read within its limit, or, when it takes none, not read at all but its declared length still bounded. */
type BodyRoad = { read: JsonBodyReader } | { ignoreWithin: number }

/**
 * An operation's whole road as one handler (hono gives each middleware an async dispatch): its id and
 * dialect, its body (size, then JSON, before the credentials, as Sunbird checks; for an operation that
 * takes none, the size alone), its handler, its headers (the operation's own, its CORS, its
 * credentials' challenge on a 401).
 */
function operationRoad(
  operation: Operation,
  handle: (c: Context<AppEnv>) => Response | Promise<Response>,
  body: BodyRoad | undefined,
  renderError: HandlerContext['renderError'],
  allowedOrigins: () => readonly string[],
): Handler<AppEnv> {
  const headers = Object.entries({
    ...operation.responseHeaders,
    ...(operation.cors.exposeHeaders && { 'Access-Control-Expose-Headers': operation.cors.exposeHeaders.join(', ') }),
  })
  /** The operation's answer: its handler's, after the body when it takes one. Throws when refused before any read. */
  function answer(c: Context<AppEnv>): Response | Promise<Response> {
    c.set('apiId', operation.id)
    c.set('dialect', operation.dialect)
    if (!body) return handle(c)
    if ('ignoreWithin' in body) {
      if (!ignoreBodyWithin(c, body.ignoreWithin)) return handle(c)
      // On the answer itself, and for one rendered from a throw, on c: a Response the handler
      // returns as it is (an Idempotency-Key replay) never gets the headers set with c.header.
      c.header('Connection', 'close')
      const answered = handle(c)
      return answered instanceof Response ? closingConnection(answered) : answered.then(closingConnection)
    }
    return body.read(c, (parsed) => {
      c.set('body', parsed)
      return handle(c)
    })
  }
  const { challenge } = operation.credentials
  // Nothing to add to the answer (Sunbird's routes): errors go to the app's error road as thrown.
  if (headers.length === 0 && !operation.cors.credentialed && !challenge) return answer

  const withHeaders = (c: Context<AppEnv>, response: Response): Response => {
    for (const [name, value] of headers) response.headers.set(name, value)
    if (challenge && response.status === 401 && !response.headers.has('WWW-Authenticate')) response.headers.set('WWW-Authenticate', challenge(c))
    if (operation.cors.credentialed) setCredentialedCors(c, allowedOrigins(), response.headers)
    return response
  }
  // As app.onError would answer it (anything but an Error goes on up, as it would there).
  const errorWithHeaders = (c: Context<AppEnv>, err: unknown): Response => {
    if (!(err instanceof Error)) throw err
    return withHeaders(c, renderError(c, err))
  }
  return function answerWithHeaders(c) {
    c.set('answerHeaders', (response) => withHeaders(c, response))
    let answered: Response | Promise<Response>
    try {
      answered = answer(c)
    } catch (err) {
      return errorWithHeaders(c, err)
    }
    if (answered instanceof Response) return withHeaders(c, answered)
    return answered.then(
      (response) => withHeaders(c, response),
      (err: unknown) => errorWithHeaders(c, err),
    )
  }
}

function closingConnection(response: Response): Response {
  response.headers.set('Connection', 'close')
  return response
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
    const maxBytes = bodyLimitOf(operation, context.maxBodyBytes)
    const body = operation.request.body ? { read: readJsonBody({ maxBytes }) } : { ignoreWithin: maxBytes }
    const road = operationRoad(operation, operation.createHandler(context), body, context.renderError, allowedOrigins)
    for (const path of operation.paths) {
      app.on(operation.method, [path], road)
      byPath.set(path, [...(byPath.get(path) ?? []), operation])
    }
  }

  for (const [path, served] of byPath) {
    const first = served[0] as Operation
    const preflights = served.filter((operation) => operation.cors.preflight)
    const methods = [...unique(served.map((operation) => operation.method)), ...(preflights.length > 0 ? ['OPTIONS'] : [])]
    const allow = methods.join(', ')
    if (preflights.length > 0) {
      const allowHeaders = unique(preflights.flatMap((operation) => [...BODY_HEADERS, ...operation.credentials.headers, ...REQUEST_ID_HEADERS, ...(operation.cors.preflight?.headers ?? [])])).join(
        ', ',
      )
      const isIdempotent = preflights.some((operation) => operation.idempotent)
      const credentialed = preflights.some((operation) => operation.cors.credentialed)
      const maxAge = String(Math.min(...preflights.map((operation) => operation.cors.preflight?.maxAgeSeconds ?? 0)))
      // A REST dialect's answers all carry X-Request-Id (and expose it to scripts): so does its
      // preflight. The Sunbird routes' preflights keep the headers their callers always got.
      const carriesRequestId = served.some((operation) => operation.cors.exposeHeaders?.includes(REQUEST_ID_HEADER))
      app.options(path, (c) => {
        if (carriesRequestId) c.header(REQUEST_ID_HEADER, c.get('msgid'))
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
    // Every other method: 405, answered as the path's first operation answers (its dialect, its headers).
    const refuseMethod = () => {
      throw methodNotAllowed(methods)
    }
    app.all(path, operationRoad(first, refuseMethod, undefined, context.renderError, allowedOrigins))
  }
}
