import { createServer, request as forwardRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SeenRequest {
  method: string
  path: string
  /** performance.now() when the request reached the relay. */
  at: number
}

/**
 * A loopback HTTP relay in front of a real server, for what the server will not do on demand:
 * become unreachable (`goDown`: connections are cut as they arrive), stop answering (`stall`:
 * requests are taken and never answered), refuse one kind of request (`answer`), or hold one
 * request back and relay it later (`holdNext`). Everything
 * else reaches the real server unchanged, Host header included. Every request that reaches the
 * relay is recorded in `seen`: how a test counts what the service asks of a dependency (e.g. JWKS
 * fetches) from the outside.
 */
export interface HttpInterposer {
  url: string
  readonly seen: readonly SeenRequest[]
  goDown(): void
  stall(): void
  /** Relays everything again (refusals set with `answer` stay). */
  restore(): void
  /** Requests that match get `status` instead of reaching the server. */
  answer(matches: (method: string, path: string) => boolean, status: number): void
  /** The next request that matches is held until `relay()`, then reaches the server as it was sent; `arrived` settles once it is held. */
  holdNext(matches: (method: string, path: string) => boolean): { arrived: Promise<void>; relay(): void }
  /** Back to relaying everything, with no refusals. */
  reset(): void
  close(): Promise<void>
}

export async function startHttpInterposer(target: string): Promise<HttpInterposer> {
  const upstream = new URL(target)
  let mode: 'relay' | 'down' | 'stalled' = 'relay'
  const refusals: { matches: (method: string, path: string) => boolean; status: number }[] = []
  const seen: SeenRequest[] = []
  const holds: { matches: (method: string, path: string) => boolean; held(): void; relayed: Promise<void> }[] = []

  const server = createServer((req, res) => {
    if (mode === 'down') return void req.socket.destroy()
    const method = req.method ?? 'GET'
    const path = req.url ?? '/'
    seen.push({ method, path, at: performance.now() })
    // Stalled: hold the request; the client's own time bound has to end it.
    if (mode === 'stalled') return
    const refusal = refusals.find((candidate) => candidate.matches(method, path))
    if (refusal) {
      req.resume()
      return void res.writeHead(refusal.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'refused' }))
    }
    const hold = holds.findIndex((candidate) => candidate.matches(method, path))
    if (hold >= 0) {
      const [{ held, relayed }] = holds.splice(hold, 1) as [(typeof holds)[number]]
      // Paused, not read: the body waits in the socket until the request is relayed.
      req.pause()
      held()
      return void relayed.then(() => relay(req, res, method, path))
    }
    relay(req, res, method, path)
  })
  const relay = (req: IncomingMessage, res: ServerResponse, method: string, path: string) => {
    const forward = forwardRequest({ host: upstream.hostname, port: upstream.port, method, path, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  }
  server.on('connection', (socket) => {
    if (mode === 'down') socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    goDown() {
      mode = 'down'
    },
    stall() {
      mode = 'stalled'
    },
    restore() {
      mode = 'relay'
    },
    answer: (matches, status) => void refusals.push({ matches, status }),
    holdNext(matches) {
      let held!: () => void
      let relay!: () => void
      const arrived = new Promise<void>((resolve) => {
        held = resolve
      })
      const relayed = new Promise<void>((resolve) => {
        relay = resolve
      })
      holds.push({ matches, held, relayed })
      return { arrived, relay }
    },
    reset() {
      mode = 'relay'
      refusals.length = 0
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
