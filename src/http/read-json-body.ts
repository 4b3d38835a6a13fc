import type { Context } from 'hono'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'
import { declaredLengthWithin, tooLarge } from './body-limit.js'
import { continueIfAwaited } from './expect-continue.js'

/** Reads a streamed (chunked) body, giving up as soon as it passes `max` bytes. */
async function readCapped(stream: ReadableStream<Uint8Array>, max: number): Promise<string> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel()
      throw tooLarge('streamed body over the limit', max)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * A body the client stopped sending (it hung up, or the server's body deadline cut it) is a refusal
 * of the client's data, not a fault of ours: it must not be logged or counted as a server error.
 */
function notReceivedWhole(err: unknown): never {
  if (err instanceof ApiError) throw err
  throw new ApiError('INVALID_REQUEST_DATA', { reason: 'body not received whole' })
}

/** `read()`, a synchronous failure of it read as notReceivedWhole; a rejection is mapped where the text is used (readJson). */
function startReading(read: () => Promise<string>): Promise<string> {
  try {
    return read()
  } catch (err) {
    return notReceivedWhole(err)
  }
}

/** Reads a request's JSON body and hands it to `use`, in one promise; resolves to what `use` returns. */
export type JsonBodyReader = <T>(c: Context<AppEnv>, use: (body: unknown) => T | PromiseLike<T>) => Promise<T>

/** JSON.parse, anything that is not JSON refused as UOS_USRDLT0028. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new ApiError('INVALID_REQUEST_DATA', { reason: 'body is not JSON' })
  }
}

/**
 * Size, then JSON: refuses on Content-Length before reading a byte (declaredLengthWithin), caps bodies
 * sent without one, and turns anything that is not JSON into UOS_USRDLT0028. A client waiting on
 * `Expect: 100-continue` is told to go on only once its body is to be read. The Content-Length path uses
 * c.req.text(), which stays on @hono/node-server's fast path (touching the raw stream does not).
 * The reader hands the body parsed, not yet validated, to `use` and resolves to what `use` returns;
 * its refusals are ApiErrors, thrown (before a byte is read) or rejected.
 */
export function readJsonBody(options: { maxBytes: number }): JsonBodyReader {
  const { maxBytes } = options
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new Error('readJsonBody: maxBytes must be a positive integer')
  /** The body as text, within the limit; a read that fails later is mapped by readJson. */
  function readText(c: Context<AppEnv>): Promise<string> {
    const declared = declaredLengthWithin(c, maxBytes)
    continueIfAwaited(c)
    if (declared !== undefined) return startReading(() => c.req.text())
    const stream = c.req.raw.body
    return stream ? startReading(() => readCapped(stream, maxBytes)) : Promise.resolve('')
  }

  // One promise on the text, parsed and used in the same step, rather than an async function awaiting
  // a caught one or a promise per step: every request reads a body (see request-context.ts).
  return function readJson(c, use) {
    return readText(c).then((text) => use(parseJson(text)), notReceivedWhole)
  }
}
