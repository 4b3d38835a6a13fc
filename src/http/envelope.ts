import type { Context } from 'hono'
import { v4 as uuidv4 } from 'uuid'
import type { RequestIdChosenBy } from '../deletion/deletion-request.js'
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

/**
 * Whose a msgid pickMessageId picked is: the caller's when it is one of the two headers' values,
 * else the fresh UUID, which only this service knows. Told apart by value rather than recorded when
 * picked: a caller whose header happened to equal it reads as the caller's, the safe side.
 */
export function messageIdChosenBy(msgid: string, requestId: string | undefined, msgId: string | undefined): RequestIdChosenBy {
  return msgid === requestId || msgid === msgId ? 'caller' : 'service'
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

/**
 * A path segment that names an API: a version (`v2`) or a word of letters, with `.`, `_` or `-`
 * (`openapi.json`, `swagger-ui`). The id is echoed back, so what a caller may have typed into a path
 * (an id, a phone number, an email, a name with a space: a digit, `@` or space in it) is left out.
 */
const API_WORD = /^(?:v\d{1,3}|[A-Za-z][A-Za-z._-]{0,63})$/

function deriveApiId(path: string): string {
  const servicePath = path.replace(/^\/api\/([^/]+)\/v1\//, '/v1/$1/')
  // Only words are joined, so no empty segment (`//`, a leading `/`) leaves `..`; no edge dot either (envelope.json's id pattern forbids both).
  const id = servicePath
    .replace(/^\/v\d+/, 'api')
    .split('/')
    .filter((segment) => API_WORD.test(segment))
    .join('.')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.+|\.+$/g, '')
  const full = id === 'api' || id.startsWith('api.') ? id : id ? `api.${id}` : 'api'
  return full.slice(0, 100).replace(/\.+$/, '')
}

/** The last `ts` written and its millisecond: a busy process answers many times a millisecond. */
let lastTs = { ms: Number.NaN, text: '' }

/** formatSunbirdTimestamp(new Date()), formatted once per millisecond. */
function timestampNow(): string {
  const ms = Date.now()
  if (ms !== lastTs.ms) lastTs = { ms, text: formatSunbirdTimestamp(new Date(ms)) }
  return lastTs.text
}

function build(apiId: string, msgid: string, outcome: Pick<Envelope, 'responseCode' | 'result'> & { err: string | null; errmsg: string | null }): Envelope {
  // Key order is part of the contract: id, ver, ts, params, responseCode, result.
  return {
    id: apiId,
    ver: 'v1',
    ts: timestampNow(),
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

/** The constant end of an error envelope's JSON per entry and message; the table and the configured messages are few. */
const errorTails = new Map<string, string>()
const MAX_ERROR_TAILS = 1000

function errorTail(entry: ErrorCodeEntry, errmsg: string): string {
  const key = `${entry.err}\n${entry.responseCode}\n${errmsg}`
  let tail = errorTails.get(key)
  if (tail === undefined) {
    tail = `"err":${JSON.stringify(entry.err)},"status":"FAILED","errmsg":${JSON.stringify(errmsg)}},"responseCode":${JSON.stringify(entry.responseCode)},"result":{}}`
    if (errorTails.size < MAX_ERROR_TAILS) errorTails.set(key, tail)
  }
  return tail
}

/** Printable ASCII but `"` and `\`: JSON writes such a string as it is, between quotes. */
const NEEDS_NO_ESCAPE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** JSON.stringify(text), byte for byte; a msgid or api id (the common case) is quoted without the call. */
function jsonString(text: string): string {
  return NEEDS_NO_ESCAPE.test(text) ? `"${text}"` : JSON.stringify(text)
}

/**
 * JSON.stringify(errorEnvelope(…)), byte for byte, without building and walking the object for the
 * common case (no `result`): the envelope is written around its per-entry constant end. Every
 * refused request pays for this, so it is the one place the envelope is written by hand.
 */
export function errorEnvelopeJson(apiId: string, msgid: string, entry: ErrorCodeEntry, errmsg: string, result?: Record<string, unknown>): string {
  if ((result !== undefined && Object.keys(result).length > 0) || typeof msgid !== 'string' || typeof apiId !== 'string') {
    return JSON.stringify(errorEnvelope(apiId, msgid, entry, errmsg, result))
  }
  const id = jsonString(msgid)
  return `{"id":${jsonString(apiId)},"ver":"v1","ts":"${timestampNow()}","params":{"resmsgid":${id},"msgid":${id},${errorTail(entry, errmsg)}`
}

/** 200 with the envelope and Sunbird's `x-response-length` (UTF-8 bytes of the JSON `result`). */
export function sendOk(c: Context, apiId: string, result: Record<string, unknown>): Response {
  c.header('x-response-length', String(Buffer.byteLength(JSON.stringify(result))))
  return c.json(successEnvelope(apiId, c.get('msgid') as string, result), 200)
}
