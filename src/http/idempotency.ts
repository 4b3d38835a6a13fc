import { createHash } from 'node:crypto'
import type { Context } from 'hono'
import type { IdempotencyKeyId, IdempotencyKeys, StoredAnswer } from '../shared/idempotency-keys.js'
import { canonicalJson } from './canonical-json.js'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key'
export const REPLAYED_HEADER = 'Idempotent-Replayed'

/** How long an answer is replayed. */
export const REPLAY_TTL_SECONDS = 24 * 60 * 60
const MAX_KEY_LENGTH = 255

/** Headers not replayed: the transport's, and CORS, which each request gets anew. */
const NOT_REPLAYED = new Set(['content-length', 'date', 'connection', 'transfer-encoding', 'vary', 'access-control-allow-origin', 'access-control-allow-credentials'])

/** Of an idempotent operation, what tells its requests apart (operation.ts declares it). */
export interface IdempotentOperation {
  readonly id: string
  /** The path parameters as the operation reads them; as sent when absent. */
  readonly sameRequestParams?: (params: Readonly<Record<string, string>>) => Record<string, string>
}

export interface IdempotencySettings {
  keys: IdempotencyKeys
  /** How long a claimed key without an answer blocks a retry (409) before a retry may run anew (the runner died). */
  inFlightSeconds: number
}

/** A claimed key: the request runs, then its answer is kept (or the key given back). */
export interface IdempotencyClaim {
  /** The key claimed: its owner and hash, from which an operation may derive ids its retries meet again. */
  id: IdempotencyKeyId
  complete(response: Response): Promise<Response>
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * What makes two requests "the same": the operation, its path parameters (as it reads them: a REST
 * route's user id in either case is one user) and query parameters, and its body. A
 * parameter sent more than once counts by every value (an operation may read the last one, as seed
 * 003's `hard`); only then, so a key kept before this was added still matches its retry.
 */
function fingerprintOf(c: Context<AppEnv>, operation: IdempotentOperation): string {
  const repeated = Object.entries(c.req.queries()).filter(([, values]) => values.length > 1)
  const params = c.req.param()
  return sha256(
    canonicalJson({
      operation: operation.id,
      params: operation.sameRequestParams ? operation.sameRequestParams(params) : params,
      query: c.req.query(),
      ...(repeated.length > 0 && { repeatedQuery: Object.fromEntries(repeated) }),
      body: c.get('body') ?? null,
    }),
  )
}

/**
 * 2xx and the client errors a retry would meet again are replayed. Not kept, so the retry runs anew:
 * a 5xx, a 401 (credentials, step-up) and a 429 (the mass-deletion guard's Retry-After says when a
 * retry may pass; a replay would repeat the refusal, with a stale Retry-After, for 24 h).
 */
const isReplayable = (status: number) => status < 500 && status !== 401 && status !== 429

function replay(c: Context<AppEnv>, answer: StoredAnswer): Response {
  if (answer.errCode) c.set('errCode', answer.errCode)
  const headers = new Headers(answer.headers)
  headers.set(REPLAYED_HEADER, 'true')
  return new Response(answer.body.byteLength > 0 ? answer.body : null, { status: answer.status, headers })
}

/**
 * Whether a kept key's fingerprint is this request's: also when it was taken from the path as sent,
 * as before the operation read it as the route does (sameRequestParams), so that a key kept up to
 * 24 h across that change (an upper-case user id) still replays for its retry rather than 422.
 */
function isSameRequest(kept: string, fingerprint: string, c: Context<AppEnv>, operation: IdempotentOperation): boolean {
  return kept === fingerprint || (operation.sameRequestParams !== undefined && kept === fingerprintOf(c, { id: operation.id }))
}

/** Whether the request sends an Idempotency-Key at all: without one, beginIdempotent has nothing to do. */
export function sendsIdempotencyKey(c: Context<AppEnv>): boolean {
  return c.req.header(IDEMPOTENCY_KEY_HEADER) !== undefined
}

/**
 * Idempotency-Key on an operation (draft-ietf-httpapi-idempotency-key-header), looked up once the
 * credentials are verified and before the lock-out, so a person retrying their own deletion gets
 * its answer: absent, the request runs as always; 1–255 characters, else 400 and nothing happens.
 * The key belongs to the caller (`owner`). First use claims it; the same key with the same request
 * within 24 h replays the stored answer (same status and body bytes, `Idempotent-Replayed: true`),
 * nothing happens twice; with another request, 422; while the first still runs, 409. A 5xx, 401 or
 * 429 is not kept (see isReplayable): the key is given back and a retry runs anew.
 */
export async function beginIdempotent(
  c: Context<AppEnv>,
  settings: IdempotencySettings,
  operation: IdempotentOperation,
  owner: string,
): Promise<{ kind: 'none' } | { kind: 'replay'; response: Response } | ({ kind: 'claimed' } & IdempotencyClaim)> {
  const key = c.req.header(IDEMPOTENCY_KEY_HEADER)
  if (key === undefined) return { kind: 'none' }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new ApiError('IDEMPOTENCY_KEY_INVALID', { reason: `key of ${key.length} characters` })
  const id: IdempotencyKeyId = { owner, keyHash: sha256(key) }
  const fingerprint = fingerprintOf(c, operation)
  const claim = await settings.keys.claim(id, fingerprint, settings.inFlightSeconds)
  if (!claim.claimed) {
    if (!isSameRequest(claim.record.fingerprint, fingerprint, c, operation)) throw new ApiError('IDEMPOTENCY_KEY_REUSED', { reason: 'same key, another request' })
    if (claim.record.state === 'in-flight') throw new ApiError('IDEMPOTENCY_KEY_IN_FLIGHT', { reason: 'first request still running' })
    return { kind: 'replay', response: replay(c, claim.record.answer) }
  }
  return {
    kind: 'claimed',
    id,
    async complete(response) {
      try {
        if (!isReplayable(response.status)) {
          await settings.keys.release(id, fingerprint)
          return response
        }
        const body = new Uint8Array(await response.clone().arrayBuffer())
        const headers = [...response.headers].filter(([name]) => !NOT_REPLAYED.has(name.toLowerCase()))
        const errCode = response.status >= 400 ? c.get('errCode') : undefined
        const kept = await settings.keys.complete(id, fingerprint, { status: response.status, headers, body, ...(errCode && { errCode }) }, REPLAY_TTL_SECONDS)
        // The claim ran out before the answer (or another request holds the key now): a retry runs anew.
        if (!kept) c.get('log')?.warn({ reason: 'claim gone' }, 'idempotency answer not stored')
      } catch (err) {
        // The answer stands; only its replay is lost (the claim runs out after inFlightSeconds).
        c.get('log')?.warn({ err: err instanceof Error ? err.name : 'error' }, 'idempotency answer not stored')
      }
      return response
    },
  }
}
