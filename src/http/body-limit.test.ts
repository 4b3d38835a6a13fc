import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FAKE_MAX_BODY_BYTES } from '../../test/support/fakes/app-over-fakes.js'
import { CONVERSATION_DEADLINE_MS, converse, serveOverFakes } from '../../test/support/raw-http.js'

const USER_ID = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const OVER = FAKE_MAX_BODY_BYTES * 10
const TOO_LARGE = `Maximum upload data size should be ${FAKE_MAX_BODY_BYTES}`
const NEXT_REQUEST = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
const head = (method: string, path: string, length: number) => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`

/** Each REST DELETE path and its dialect's 413 body. */
const REST_DELETE_413: [string, unknown][] = [
  [`/api/v2/user/${USER_ID}/`, { detail: TOO_LARGE }],
  [`/api/v2/user/${USER_ID}`, { detail: TOO_LARGE }],
  [`/api/v1/users/${USER_ID}`, { statusCode: 413, message: TOO_LARGE }],
  [`/api/users/${USER_ID}`, { statusCode: 413, statusMessage: 'Payload Too Large', data: { message: TOO_LARGE } }],
  [`/api/users/${USER_ID}/`, { detail: TOO_LARGE }],
]

// A conversation may wait up to CONVERSATION_DEADLINE_MS on a loaded machine before it fails naming what came.
describe('a body over the limit, on a real connection', { timeout: CONVERSATION_DEADLINE_MS * 1.5 }, () => {
  let served: Awaited<ReturnType<typeof serveOverFakes>>
  beforeAll(async () => {
    served = await serveOverFakes()
  })
  afterAll(() => served.close())

  it('when a declared body over the limit is refused unread, then the 413 says Connection: close and the connection is closed: the request sent next is not taken for that body', async () => {
    const { answers, closedByServer } = await converse(served.port, head('POST', '/api/user/v1/delete', OVER), [NEXT_REQUEST])

    expect(answers.map((answer) => answer.status)).toEqual([413])
    expect(answers[0]?.headers.connection).toBe('close')
    expect(closedByServer).toBe(true)
  })

  it('when a chunked body passes the limit, then it is cut off there with a 413 that closes the connection', async () => {
    const chunk = 'x'.repeat(1024)
    const chunked = `POST /api/user/v1/delete HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`
    const { answers, closedByServer } = await converse(served.port, chunked + `400\r\n${chunk}\r\n`.repeat(10))

    expect(answers.map((answer) => answer.status)).toEqual([413])
    expect(answers[0]?.headers.connection).toBe('close')
    expect(closedByServer).toBe(true)
  })

  it.each(REST_DELETE_413)(
    'when a DELETE to %s, which reads no body, declares one over the limit, then it is refused 413 in the route’s dialect before anything else, and the connection is closed',
    async (path, body) => {
      const { answers, closedByServer } = await converse(served.port, head('DELETE', path, OVER), [NEXT_REQUEST])

      expect(answers.map((answer) => answer.status)).toEqual([413])
      expect(JSON.parse(answers[0]?.body ?? '')).toEqual(body)
      expect(answers[0]?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
      expect(answers[0]?.headers.connection).toBe('close')
      expect(closedByServer).toBe(true)
    },
  )

  it.each(REST_DELETE_413.map(([path]) => path))(
    'when a DELETE to %s sends a small body, then it is ignored as always: answered, the connection kept, and the next request on it answered',
    async (path) => {
      const { answers, closedByServer } = await converse(served.port, `${head('DELETE', path, 8)}{"a":12}`, [NEXT_REQUEST], { finalAnswers: 2 })

      expect(answers.map((answer) => answer.status)).toEqual([401, 200])
      expect(answers[0]?.headers.connection).toBe('keep-alive')
      expect(closedByServer).toBe(false)
    },
  )

  it.each(REST_DELETE_413.map(([path]) => path))(
    'when a DELETE to %s sends a chunked body, whose length is not known before it all comes, then it is answered without reading it, and the connection is closed',
    async (path) => {
      const chunked = `DELETE ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{"a":12}\r\n`
      const { answers, closedByServer } = await converse(served.port, chunked, ['0\r\n\r\n', NEXT_REQUEST])

      expect(answers.map((answer) => answer.status)).toEqual([401])
      expect(answers[0]?.headers.connection).toBe('close')
      expect(closedByServer).toBe(true)
    },
  )

  it('when a keyed DELETE with a chunked body is retried, then the replayed answer closes the connection too, as the first did', async () => {
    const keyed = `DELETE /api/v2/user/${USER_ID}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${served.fakes.userToken({ sub: USER_ID })}\r\nIdempotency-Key: chunked-retry-1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{"a":12}\r\n`
    const first = await converse(served.port, keyed, ['0\r\n\r\n', NEXT_REQUEST])
    const retry = await converse(served.port, keyed, ['0\r\n\r\n', NEXT_REQUEST])

    expect(retry.answers.map((answer) => answer.status)).toEqual(first.answers.map((answer) => answer.status))
    expect(retry.answers[0]?.headers['idempotent-replayed']).toBe('true')
    expect(retry.answers[0]?.headers.connection).toBe('close')
    expect(retry.closedByServer).toBe(true)
  })

  it('when a Sunbird delete within the limit is refused, then its connection is kept as always', async () => {
    const body = '{"request":{}}'
    const { answers, closedByServer } = await converse(served.port, head('POST', '/api/user/v1/delete', body.length) + body, [NEXT_REQUEST], { finalAnswers: 2 })

    expect(answers.map((answer) => answer.status)).toEqual([401, 200])
    expect(answers[0]?.headers.connection).toBe('keep-alive')
    expect(closedByServer).toBe(false)
  })
})
