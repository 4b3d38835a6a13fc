import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A request as the stub received it, body read in full. */
export interface StubRequest {
  method: string
  /** The path with its query string, as sent. */
  path: string
  headers: IncomingHttpHeaders
  body: string
}

/** Answers one request; it may also never answer (a dependency that hangs). */
export type StubHandler = (request: StubRequest, res: ServerResponse) => void

export interface StubServer {
  /** http://127.0.0.1:<port> */
  url: string
  server: Server
  /** Every request received so far, in order. */
  requests: StubRequest[]
  /** Resolves once `count` requests in all have arrived: await this instead of sleeping. */
  arrived(count: number): Promise<void>
  /** Cuts every connection (hanging ones included) and stops listening; safe to call twice. */
  close(): Promise<void>
}

/**
 * An HTTP server on 127.0.0.1 (port 0) that stands in for a dependency in unit tests: the test
 * gives the handler, the stub reads bodies, records requests and tells when they arrived.
 */
export async function startStubServer(handle: StubHandler): Promise<StubServer> {
  const requests: StubRequest[] = []
  const waiting: { count: number; resolve: () => void }[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request: StubRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(request)
      for (const waiter of waiting.filter((w) => requests.length >= w.count)) {
        waiting.splice(waiting.indexOf(waiter), 1)
        waiter.resolve()
      }
      handle(request, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    arrived: (count) => (requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiting.push({ count, resolve }))),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
      return closed
    },
  }
}
