import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'
import { readJsonBody } from './read-json-body.js'

/** The reader alone: what it refuses is reported as the ApiError code it threw. */
function appReading(maxBytes = 64) {
  const app = new Hono<AppEnv>()
  const read = readJsonBody({ maxBytes })
  app.post('/', async (c) => c.json({ body: await read(c, (body) => body) }))
  app.onError((err, c) => c.json({ refused: err instanceof ApiError ? err.code : 'unexpected' }, 400))
  return app
}

/** A body whose sender hangs up after the first bytes, as a client cut by the body deadline does. */
function bodyThatBreaks(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"request":'))
      controller.error(new Error('aborted'))
    },
  })
}

describe('readJsonBody', () => {
  it('when a whole JSON body arrives, then the handler gets it parsed', async () => {
    const res = await appReading().request('/', { method: 'POST', body: '{"a":1}', headers: { 'content-length': '7' } })
    expect(await res.json()).toEqual({ body: { a: 1 } })
  })

  it('when the client stops sending half-way, then it is refused as bad request data, not as a server error', async () => {
    const res = await appReading().request('/', { method: 'POST', body: bodyThatBreaks(), duplex: 'half' } as RequestInit)
    expect(await res.json()).toEqual({ refused: 'INVALID_REQUEST_DATA' })
  })

  it('when a streamed body passes the limit, then it is refused as too large', async () => {
    const big = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(100).fill(32))
        controller.close()
      },
    })
    const res = await appReading(10).request('/', { method: 'POST', body: big, duplex: 'half' } as RequestInit)
    expect(await res.json()).toEqual({ refused: 'PAYLOAD_TOO_LARGE' })
  })

  it.each(['65', '999999999999999', '9999999999999999', '9'.repeat(400)])(
    'when the Content-Length announced is %s, over the limit however many digits it has, then it is refused as too large before a byte is read',
    async (length) => {
      const res = await appReading(64).request('/', { method: 'POST', body: '{}', headers: { 'content-length': length } })
      expect(await res.json()).toEqual({ refused: 'PAYLOAD_TOO_LARGE' })
    },
  )

  it.each(['-1', '1e3', '0x10'])('when the Content-Length is %j, not a number of bytes, then it is refused as bad request data', async (length) => {
    const res = await appReading(64).request('/', { method: 'POST', body: '{}', headers: { 'content-length': length } })
    expect(await res.json()).toEqual({ refused: 'INVALID_REQUEST_DATA' })
  })
})
