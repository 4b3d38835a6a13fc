import type { Context } from 'hono'
import { v4 as uuidv4 } from 'uuid'
import { formatSunbirdTimestamp } from '../shared/sunbird-timestamp.js'
import type { ErrorCodeEntry } from './error-codes.js'

export type Envelope = {
  id: string
  ver: string
  ts: string
  params: { resmsgid: string; msgid: string; err: string | null; status: 'SUCCESS' | 'FAILED'; errmsg: string | null }
  responseCode: string
  result: Record<string, unknown>
}

// Echo a caller's id only when it is a plain token; anything else (control characters, huge values) gets a fresh one.
const ACCEPTABLE_MSGID = /^[\x21-\x7e]{1,255}$/

/** Sunbird's precedence: x-request-id, then X-msgId, then a new UUID v4. */
export function pickMessageId(requestId: string | undefined, msgId: string | undefined): string {
  if (requestId !== undefined && ACCEPTABLE_MSGID.test(requestId)) return requestId
  if (msgId !== undefined && ACCEPTABLE_MSGID.test(msgId)) return msgId
  return uuidv4()
}

/** Api ids of the paths seen, so the chain of replacements below runs once per path, not per request. */
const apiIds = new Map<string, string>()
const MAX_CACHED_PATHS = 1000

/** `api.user.delete` for `/v1/user/delete` and `/api/user/v1/delete`, as Sunbird derives it from the service path. */
export function apiIdForPath(path: string): string {
  const known = apiIds.get(path)
  if (known !== undefined) return known
  const id = deriveApiId(path)
  // Any path may be asked for (404s too): the cache stays bounded.
  if (apiIds.size >= MAX_CACHED_PATHS) apiIds.clear()
  apiIds.set(path, id)
  return id
}

function deriveApiId(path: string): string {
  const servicePath = path.replace(/^\/api\/([^/]+)\/v1\//, '/v1/$1/')
  // Empty segments (stripped characters, `//`, a leading `/`) must not leave `..` or an edge dot: envelope.json's id pattern forbids them.
  const id = servicePath
    .replace(/^\/v\d+/, 'api')
    .replace(/\//g, '.')
    .replace(/[^A-Za-z0-9._-]/g, '')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.+|\.+$/g, '')
  const full = id === 'api' || id.startsWith('api.') ? id : id ? `api.${id}` : 'api'
  return full.slice(0, 100).replace(/\.+$/, '')
}

function build(apiId: string, msgid: string, outcome: Pick<Envelope, 'responseCode' | 'result'> & { err: string | null; errmsg: string | null }): Envelope {
  // Key order is part of the contract: id, ver, ts, params, responseCode, result.
  return {
    id: apiId,
    ver: 'v1',
    ts: formatSunbirdTimestamp(new Date()),
    params: { resmsgid: msgid, msgid, err: outcome.err, status: outcome.err === null ? 'SUCCESS' : 'FAILED', errmsg: outcome.errmsg },
    responseCode: outcome.responseCode,
    result: outcome.result,
  }
}

export function successEnvelope(apiId: string, msgid: string, result: Record<string, unknown>): Envelope {
  return build(apiId, msgid, { err: null, errmsg: null, responseCode: 'OK', result })
}

/** `result` is empty but where the operation still reports something with the error (the checks of a 503 /ready). */
export function errorEnvelope(apiId: string, msgid: string, entry: ErrorCodeEntry, errmsg: string, result: Record<string, unknown> = {}): Envelope {
  return build(apiId, msgid, { err: entry.err, errmsg, responseCode: entry.responseCode, result })
}

/** 200 with the envelope and Sunbird's `x-response-length` (UTF-8 bytes of the JSON `result`). */
export function sendOk(c: Context, apiId: string, result: Record<string, unknown>): Response {
  c.header('x-response-length', String(Buffer.byteLength(JSON.stringify(result))))
  return c.json(successEnvelope(apiId, c.get('msgid') as string, result), 200)
}
