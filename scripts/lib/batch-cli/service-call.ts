import { REPLAYED_HEADER } from '../../../src/http/idempotency.js'
import { stopIfEnding } from './terminal.js'

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
/**
 * TLS handshakes that fail on the protocol (before any byte of the request): most often https
 * asked of a service that speaks plain http (OpenSSL reads its answer as a record of a wrong version).
 */
const TLS_HANDSHAKE_CODES = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'EPROTO',
])
/** Certificates refused by the handshake, before any byte of the request (Node's X509 codes): by what the operator can change. */
const CERT_NAME_CODES = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH'])
const CERT_TIME_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD'])
const CERT_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
])

export type Body = { ts?: unknown; params?: { err?: string | null; errmsg?: string | null }; result?: unknown }
export type Answer =
  | {
      kind: 'answer'
      status: number
      retryAfter: string | null
      /** The service's answer to an earlier request with the same Idempotency-Key, replayed (`Idempotent-Replayed: true`). */
      replayed: boolean
      body: Body
    }
  | {
      kind: 'none'
      why: string
      notSent: boolean
      /**
       * Set when no later try can get through (fetch refuses the port, the TLS handshake or the
       * certificate fails; nothing was sent): what the operator has to change. Then the CLI stops at once.
       */
      misconfigured?: string
    }

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
      // An interrupt ends the CLI while the flow waits (for an answer, a pause): no call starts and no
      // answer is acted on after it, so what it said of where things stand stays true.
      stopIfEnding()
      const answer = await ask(path, request, timeoutMs, extraHeaders)
      stopIfEnding()
      return answer
    },
  }

  async function ask(path: string, request: Record<string, unknown>, timeoutMs: number, extraHeaders: Record<string, string>): Promise<Answer> {
    try {
      // Whole milliseconds: AbortSignal.timeout throws on a fraction (half of --give-up-after 1.001), and no call would be sent.
      const signal = AbortSignal.timeout(Math.ceil(timeoutMs))
      const response = await fetch(`${base}${path}`, { method: 'POST', headers: { ...headers, ...extraHeaders }, body: JSON.stringify({ request }), signal })
      const text = await response.text()
      return {
        kind: 'answer',
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        replayed: response.headers.get(REPLAYED_HEADER) === 'true',
        body: parseBody(text),
      }
    } catch (err) {
      return noAnswer(err, timeoutMs, base)
    }
  }
}

/**
 * Why a call got no answer: the timeout, the cause's code (ECONNREFUSED…), else a plain phrase.
 * Never the error's message: undici puts a refused header's whole value, a token, in it.
 */
export function noAnswer(err: unknown, timeoutMs: number, base: string): Answer {
  if (err instanceof Error && err.name === 'TimeoutError') return { kind: 'none', why: `no answer within ${timeoutMs / 1000}s`, notSent: false }
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause
  // fetch's own refusal (the Fetch standard's port blocking), decided before any connection: `TypeError('fetch failed')` whose cause says only this.
  if (err instanceof TypeError && cause instanceof Error && cause.message === 'bad port') {
    const port = new URL(base).port
    return {
      kind: 'none',
      why: 'bad port',
      notSent: true,
      misconfigured: `Node's fetch never connects to port ${port} (one it blocks as unsafe): run the service on another port and give that in --url`,
    }
  }
  const code = cause?.code
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) {
    const misconfigured = tlsProblem(code)
    return { kind: 'none', why: code, notSent: NOT_SENT_CODES.has(code) || misconfigured !== undefined, ...(misconfigured && { misconfigured }) }
  }
  return { kind: 'none', why: 'no connection', notSent: false }
}

/** A TLS handshake that failed, as what to change; undefined for any other code. */
function tlsProblem(code: string): string | undefined {
  if (TLS_HANDSHAKE_CODES.has(code)) return 'the TLS handshake failed: if the service is served over plain http, give --url as http://'
  if (CERT_NAME_CODES.has(code)) return "the service's TLS certificate does not name this host: give --url with a name the certificate was issued for"
  if (CERT_TIME_CODES.has(code)) return "the service's TLS certificate is expired or not yet valid (or this machine's clock is off)"
  if (CERT_TRUST_CODES.has(code)) return "the service's TLS certificate is not signed by a CA this machine trusts: NODE_EXTRA_CA_CERTS=<the CA's .pem> adds it"
  return undefined
}

/** A call that got no answer, as the operator reads it: the address, why, and what to change when no retry can help. */
export const unreached = (service: ServiceClient, answer: Extract<Answer, { kind: 'none' }>) => `cannot reach ${service.base} (${answer.why})${answer.misconfigured ? `: ${answer.misconfigured}` : ''}`

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

/**
 * A part of an answer's envelope as the operator's terminal shows it: text only (an object would
 * read `[object Object]`), on one line, no control or format characters (an escape sequence sent by
 * whatever answers at --url would drive the terminal; a line break would forge a line of the CLI's
 * own), at most 200 characters.
 */
function shown(part: unknown): string {
  return typeof part === 'string'
    ? part
        .replace(/[\p{Cc}\p{Cf}\s]+/gu, ' ')
        .trim()
        .slice(0, 200)
    : ''
}

/** A refusal as the operator reads it: the HTTP status, then the envelope's err and errmsg. */
export const refusal = (status: number, body: Body) => [String(status), shown(body.params?.err), shown(body.params?.errmsg)].filter((part) => part !== '').join(' ')

/** Retry-After in seconds or as an HTTP date, bounded by MAX_RETRY_AFTER_MS. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now()
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS)
}
