import { REPLAYED_HEADER } from '../../../src/http/idempotency.js'

/** A call not answered within this long counts as no answer (a status read; a submit of 1000 ids). */
export const CALL_TIMEOUT_MS = 15_000
/** A Retry-After longer than this is waited this long: the operator is watching. */
const MAX_RETRY_AFTER_MS = 30_000
/**
 * Network errors met before the request left: the service cannot have done anything. After a
 * timeout or a cut connection it may have (a submit's retry then carries the same Idempotency-Key,
 * so it gets that job back rather than a second one).
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])

export type Body = { params?: { err?: string | null; errmsg?: string | null }; result?: unknown }
export type Answer =
  | {
      kind: 'answer'
      status: number
      retryAfter: string | null
      /** The service's answer to an earlier request with the same Idempotency-Key, replayed (`Idempotent-Replayed: true`). */
      replayed: boolean
      body: Body
    }
  | { kind: 'none'; why: string; notSent: boolean }

/** The deletion service at one address, called with the operator's credentials. */
export interface ServiceClient {
  /** The service's address, as the CLI's messages name it. */
  readonly base: string
  /** POSTs `{ request }`, with `extraHeaders` besides the credentials; the timeout covers the body too, so a service that stalls mid-answer is no answer. */
  call(path: string, request: Record<string, unknown>, timeoutMs: number, extraHeaders?: Record<string, string>): Promise<Answer>
}

export function createServiceClient(base: string, headers: Record<string, string>): ServiceClient {
  return {
    base,
    async call(path, request, timeoutMs, extraHeaders = {}) {
      try {
        const response = await fetch(`${base}${path}`, { method: 'POST', headers: { ...headers, ...extraHeaders }, body: JSON.stringify({ request }), signal: AbortSignal.timeout(timeoutMs) })
        const text = await response.text()
        return {
          kind: 'answer',
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          replayed: response.headers.get(REPLAYED_HEADER) === 'true',
          body: parseBody(text),
        }
      } catch (err) {
        return noAnswer(err, timeoutMs)
      }
    },
  }
}

/**
 * Why a call got no answer: the timeout, the cause's code (ECONNREFUSED…), else a plain phrase.
 * Never the error's message: undici puts a refused header's whole value, a token, in it.
 */
function noAnswer(err: unknown, timeoutMs: number): Answer {
  if (err instanceof Error && err.name === 'TimeoutError') return { kind: 'none', why: `no answer within ${timeoutMs / 1000}s`, notSent: false }
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return { kind: 'none', why: code, notSent: NOT_SENT_CODES.has(code) }
  return { kind: 'none', why: 'no connection', notSent: false }
}

/** The JSON answer; anything else (a proxy's HTML page) as a one-line errmsg to show. */
function parseBody(text: string): Body {
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body === 'object' && body !== null) return body as Body
  } catch {
    // not JSON: below
  }
  return { params: { errmsg: text.replace(/\s+/g, ' ').trim().slice(0, 200) } }
}

/** A refusal as the operator reads it: the HTTP status, then the envelope's err and errmsg. */
export const refusal = (status: number, body: Body) => `${status} ${body.params?.err ?? ''} ${body.params?.errmsg ?? ''}`.trim()

/** Retry-After in seconds or as an HTTP date, bounded by MAX_RETRY_AFTER_MS. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now()
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS)
}
