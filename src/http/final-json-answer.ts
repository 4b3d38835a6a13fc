import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AppEnv } from './app-env.js'

// Marks kept on the objects themselves, not in WeakSets: every request added a context to one and
// its answer to the other, and a weak collection's entries cost a hash insertion each and extra
// work at every GC (about a tenth of a refusal's CPU, measured with bench/rejection-cpu.ts).
/** On a context watched from the first handler on: true while no header has been set through hono. */
const NO_HEADER_SET = Symbol('no header set through hono')
/** On an answer jsonAnswer built itself, the gateway's CORS header already in it. */
const BUILT_HERE = Symbol('built by jsonAnswer')

type Marked<T, Mark extends symbol> = T & { [mark in Mark]?: boolean }

/**
 * Watches `c.header` from here on: jsonAnswer builds its own answer only while no header was set
 * through hono. Only from the first handler of the chain (a header set before it is out of sight).
 */
export function watchHeaders(c: Context<AppEnv>): void {
  if (c.req.routeIndex !== 0) return
  const header = c.header
  const watched = c as Marked<Context<AppEnv>, typeof NO_HEADER_SET>
  c.header = ((name: string, value?: string, options?: { append?: boolean }) => {
    watched[NO_HEADER_SET] = false
    c.header = header
    header(name, value, options)
  }) as Context<AppEnv>['header']
  watched[NO_HEADER_SET] = true
}

/** Whether jsonAnswer built `res` itself (its CORS header is in it). */
export function isFinalJsonAnswer(res: Response): boolean {
  return (res as Marked<Response, typeof BUILT_HERE>)[BUILT_HERE] === true
}

/**
 * `c.body(json, status, { 'Content-Type': 'application/json' })` as sent once addGatewayCors ran, byte for byte; built in node-server's
 * header layout (lower-cased, sorted, then Content-Length) when final and hono holds nothing: a refusal's Headers cost a tenth of its CPU.
 */
export function jsonAnswer(c: Context<AppEnv>, json: string, status: ContentfulStatusCode, final: boolean): Response {
  // A HEAD answer is rebuilt by hono from these headers; a credentialed operation sets CORS itself.
  if (!final || (c as Marked<Context<AppEnv>, typeof NO_HEADER_SET>)[NO_HEADER_SET] !== true || c.finalized || c.req.method === 'HEAD' || c.get('credentialedCors')) {
    return c.body(json, status, { 'Content-Type': 'application/json' })
  }
  const headers = { 'access-control-allow-origin': '*', 'content-type': 'application/json', 'Content-Length': String(Buffer.byteLength(json)) }
  const answer: Marked<Response, typeof BUILT_HERE> = new Response(json, { status, headers })
  answer[BUILT_HERE] = true
  return answer
}
