import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { userDelete } from '../../src/http/operations/user-delete.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { LOCAL_CONSUMER } from '../support/harness.js'

/** The bound: a slow client is cut within this by default. */
const CUT_WITHIN_MS = 15_000
const DRIP_EVERY_MS = 1000

interface Cut {
  /** From the first byte sent (or from connecting, when nothing is sent) to the server closing. */
  afterMs: number
  /** What the server wrote before closing. */
  answer: string
  /** Bytes the client managed to send. */
  sent: number
}

/**
 * A raw TCP client that writes `preamble` at once, then `drip` one byte per second, until the
 * server closes the connection (or `giveUpMs` passes: then the test fails, never hangs).
 */
function slowClient(url: string, preamble: string, drip: string, giveUpMs = 60_000): Promise<Cut> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(port), hostname)
    let answer = ''
    let sent = 0
    let started = 0
    let timer: NodeJS.Timeout | undefined
    const giveUp = setTimeout(() => {
      socket.destroy()
      reject(new Error(`still connected after ${giveUpMs} ms (sent ${sent} bytes)`))
    }, giveUpMs)
    socket.on('connect', () => {
      started = performance.now()
      if (preamble) {
        socket.write(preamble)
        sent += preamble.length
      }
      let next = 0
      timer = setInterval(() => {
        if (next < drip.length && socket.writable) {
          socket.write(drip[next++] as string)
          sent += 1
        }
      }, DRIP_EVERY_MS)
    })
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1')
    })
    socket.on('error', () => undefined) // a reset is a cut too; 'close' follows
    socket.on('close', () => {
      clearInterval(timer)
      clearTimeout(giveUp)
      resolve({ afterMs: performance.now() - started, answer, sent })
    })
  })
}

const PATH = userDelete.paths[0]
const BODY = JSON.stringify({ request: { userId: '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41' } })
/** Headers sent a byte a second, the first at once (the headers deadline counts from it). */
const dripHeaders = (url: string, giveUpMs?: number) => {
  const headers = headersOf(BODY)
  return slowClient(url, headers.slice(0, 1), headers.slice(1), giveUpMs)
}
const headersOf = (body: string) =>
  `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`

/** Whether the server still answers a plain request while slow clients hold their connections. */
async function healthStatus(url: string): Promise<number> {
  const response = await fetch(`${url}/health`)
  await response.body?.cancel()
  return response.status
}

describe('slow clients against the built server with the default limits', () => {
  let server: ContractServer
  let cuts: { slowHeaders: Cut; slowBody: Cut; silent: Cut; idleKeepAlive: Cut }
  let healthWhileHeld: number

  beforeAll(async () => {
    server = await startContractServer()
    // Arrange + act: the four shapes at once, so the suite waits for the slowest only.
    const slowHeaders = dripHeaders(server.url)
    const slowBody = slowClient(server.url, headersOf(BODY), BODY)
    const silent = slowClient(server.url, '', '')
    // A well-behaved request, then the connection left open and idle.
    const idleKeepAlive = slowClient(server.url, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, '')
    healthWhileHeld = await healthStatus(server.url)
    const [a, b, c, d] = await Promise.all([slowHeaders, slowBody, silent, idleKeepAlive])
    cuts = { slowHeaders: a, slowBody: b, silent: c, idleKeepAlive: d }
    console.log(`slow clients cut after (ms): headers ${Math.round(a.afterMs)}, body ${Math.round(b.afterMs)}, silent ${Math.round(c.afterMs)}, idle keep-alive ${Math.round(d.afterMs)}`)
  }, 90_000)
  afterAll(async () => {
    await server?.stop()
  })

  it('when a client sends its headers a byte a second, then it gets 408 and is cut after the headers deadline (5 s), well within 15 s', () => {
    expect(cuts.slowHeaders.answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
    expect(cuts.slowHeaders.afterMs).toBeGreaterThanOrEqual(5000 - 50)
    expect(cuts.slowHeaders.afterMs).toBeLessThan(CUT_WITHIN_MS)
    // It never got its headers out: about one byte per second of the wait.
    expect(cuts.slowHeaders.sent).toBeLessThan(headersOf(BODY).length)
  })

  it('when a client sends its body a byte a second, then it gets 408 and is cut after the request deadline (8 s), well within 15 s', () => {
    expect(cuts.slowBody.answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
    expect(cuts.slowBody.afterMs).toBeGreaterThanOrEqual(8000 - 50)
    expect(cuts.slowBody.afterMs).toBeLessThan(CUT_WITHIN_MS)
  })

  it('when a client connects and sends nothing, then the connection is closed after the headers deadline', () => {
    expect(cuts.silent.afterMs).toBeGreaterThanOrEqual(5000 - 50)
    expect(cuts.silent.afterMs).toBeLessThan(CUT_WITHIN_MS)
  })

  it('when a kept-alive connection stays idle after its answer, then it is closed after the keep-alive timeout (5 s)', () => {
    expect(cuts.idleKeepAlive.answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(cuts.idleKeepAlive.afterMs).toBeGreaterThanOrEqual(5000 - 50)
    expect(cuts.idleKeepAlive.afterMs).toBeLessThan(CUT_WITHIN_MS)
  })

  it('when slow clients hold connections, then other requests are still answered', () => {
    expect(healthWhileHeld).toBe(200)
  })

  it('when a client sends more than 16 KiB of request line and headers, then Node answers 431 with no body, no envelope and no X-Request-Id, and closes the connection', async () => {
    const oversized = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(16 * 1024)}\r\n\r\n`

    const cut = await slowClient(server.url, oversized, '', 10_000)

    expect(cut.answer).toBe('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n')
  })

  it.each([
    ['a Content-Length that is not a number', 'Content-Length: abc\r\n'],
    ['two Content-Length headers', 'Content-Length: 2\r\nContent-Length: 3\r\n'],
  ])('when a request is malformed (%s), then Node answers a bare 400 with Connection: close before the service sees it', async (_case, lengths) => {
    const malformed = `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${lengths}\r\n{}`

    const cut = await slowClient(server.url, malformed, '', 10_000)

    expect(cut.answer).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
  })

  it('when a slow body is cut, then the service logs no unexpected error for it', () => {
    const errors = server.logs.filter((line) => /"level":(50|60)/.test(line))

    expect(errors).toEqual([])
  })
})

describe('slow and greedy clients against the built server with limits of its own', () => {
  const MAX_CONNECTIONS = 4
  let server: ContractServer

  beforeAll(async () => {
    server = await startContractServer({ env: { HTTP_HEADERS_TIMEOUT_MS: '1500', HTTP_REQUEST_TIMEOUT_MS: '2500', HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS) } })
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
  })

  it('when HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS are set, then slow headers and slow bodies are cut at those deadlines', async () => {
    const [slowHeaders, slowBody] = await Promise.all([dripHeaders(server.url), slowClient(server.url, headersOf(BODY), BODY)])
    console.log(`configured limits (1.5 s / 2.5 s) cut after (ms): headers ${Math.round(slowHeaders.afterMs)}, body ${Math.round(slowBody.afterMs)}`)

    expect(slowHeaders.answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(slowHeaders.afterMs).toBeGreaterThanOrEqual(1500 - 50)
    expect(slowHeaders.afterMs).toBeLessThan(1500 + 1500)
    expect(slowBody.answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(slowBody.afterMs).toBeGreaterThanOrEqual(2500 - 50)
    expect(slowBody.afterMs).toBeLessThan(2500 + 1500)
  })

  it('when more connections than HTTP_MAX_CONNECTIONS are opened, then the ones beyond the cap are closed at once and a freed place is usable again', async () => {
    // Arrange: fill the cap with kept-alive connections, each of which has had an answer: the
    // answer proves the server accepted (and counts) it, so no waiting on a guess is needed.
    const { hostname, port } = new URL(server.url)
    const openAnswered = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'))
        socket.once('data', () => resolve(socket))
        socket.on('error', reject)
      })
    const holders: Socket[] = []
    for (let i = 0; i < MAX_CONNECTIONS; i++) holders.push(await openAnswered())

    // Act: one more connection.
    const started = performance.now()
    const extra = slowClient(server.url, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '', 10_000)
    const beyond = await extra

    // Assert: closed at once, nothing answered.
    console.log(`connection beyond the cap closed after ${Math.round(performance.now() - started)} ms`)
    expect(beyond.answer).toBe('')
    expect(beyond.afterMs).toBeLessThan(1000)

    // A freed place takes a request again.
    holders.pop()?.destroy()
    await expect.poll(() => healthStatus(server.url).catch(() => 0), { timeout: 5000 }).toBe(200)
    for (const socket of holders) socket.destroy()
  })
})
