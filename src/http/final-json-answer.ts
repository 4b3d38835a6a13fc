import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AppEnv } from './app-env.js'

/** Contexts watched from the first handler on, on which no header has been set yet. */
const noHeadersSet = new WeakSet<Context<AppEnv>>()
/** Answers jsonAnswer built itself, the gateway's CORS header already in them. */
const builtHere = new WeakSet<Response>()

/**
 * Watches `c.header` from here on: jsonAnswer builds its own answer only while no header was set
 * through hono. Only from the first handler of the chain (a header set before it is out of sight).
 */
export function watchHeaders(c: Context<AppEnv>): void {
  if (c.req.routeIndex !== 0) return
  const header = c.header
  c.header = ((name: string, value?: string, options?: { append?: boolean }) => {
    noHeadersSet.delete(c)
    c.header = header
    header(name, value, options)
  }) as Context<AppEnv>['header']
  noHeadersSet.add(c)
}

/** Whether jsonAnswer built `res` itself (its CORS header is in it). */
export function isFinalJsonAnswer(res: Response): boolean {
  return builtHere.has(res)
}

/**
 * `c.body(json, status, { 'Content-Type': 'application/json' })` as sent once addGatewayCors ran, byte for byte; built in node-server's
 * header layout (lower-cased, sorted, then Content-Length) when final and hono holds nothing: a refusal's Headers cost a tenth of its CPU.
 */
export function jsonAnswer(c: Context<AppEnv>, json: string, status: ContentfulStatusCode, final: boolean): Response {
  // A HEAD answer is rebuilt by hono from these headers; a credentialed operation sets CORS itself.
  if (!final || !noHeadersSet.has(c) || c.finalized || c.req.method === 'HEAD' || c.get('credentialedCors')) {
    return c.body(json, status, { 'Content-Type': 'application/json' })
  }
  const headers = { 'access-control-allow-origin': '*', 'content-type': 'application/json', 'Content-Length': String(Buffer.byteLength(json)) }
  const answer = new Response(json, { status, headers })
  builtHere.add(answer)
  return answer
}
