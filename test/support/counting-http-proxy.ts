import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SeenRequest {
  method: string
  path: string
  /** performance.now() when the request reached the proxy. */
  at: number
}

/**
 * A loopback HTTP reverse proxy in front of a real server that records every request it relays:
 * how a test counts what the service asks of Keycloak (e.g. JWKS fetches) from the outside.
 */
export interface CountingHttpProxy {
  url: string
  seen: SeenRequest[]
  close(): Promise<void>
}

export async function startCountingHttpProxy(target: string): Promise<CountingHttpProxy> {
  const upstream = new URL(target)
  const seen: SeenRequest[] = []
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', at: performance.now() })
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
