import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FAKE_MAX_BODY_BYTES } from '../../test/support/fakes/app-over-fakes.js'
import { converse, serveOverFakes } from '../../test/support/raw-http.js'

const OVER = FAKE_MAX_BODY_BYTES * 10
const NEXT_REQUEST = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
const head = (method: string, path: string, length: number) => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`

describe('a body over the limit, on a real connection', () => {
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

  it('when a Sunbird delete within the limit is refused, then its connection is kept as always', async () => {
    const body = '{"request":{}}'
    const { answers, closedByServer } = await converse(served.port, head('POST', '/api/user/v1/delete', body.length) + body, [NEXT_REQUEST])

    expect(answers.map((answer) => answer.status)).toEqual([401, 200])
    expect(answers[0]?.headers.connection).toBe('keep-alive')
    expect(closedByServer).toBe(false)
  })
})
