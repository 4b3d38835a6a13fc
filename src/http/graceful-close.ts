import type { Server as HttpServer, ServerResponse } from 'node:http'
import type { ServerType } from '@hono/node-server'

/**
 * Prepares a server for a clean stop; call once, right after it starts listening. The returned
 * close() stops accepting, lets every request in flight finish and answer, closes each keep-alive
 * connection as soon as it has nothing in flight (server.close() alone leaves them open until the
 * keep-alive timeout), and resolves true once every connection is gone, or false when `graceMs`
 * passed first and the remaining connections were cut.
 */
export function gracefulClose(server: ServerType): (graceMs: number) => Promise<boolean> {
  const http = server as HttpServer
  const inFlight = new Set<ServerResponse>()
  let closing = false
  // Tells the client not to reuse the connection, so it never sends a request we then drop.
  const closeAfter = (res: ServerResponse) => {
    if (!res.headersSent) res.shouldKeepAlive = false
  }
  // One listener for every response ('close' comes once): no closure, no once-wrapper per request.
  function answered(this: ServerResponse): void {
    inFlight.delete(this)
    if (closing) http.closeIdleConnections()
  }
  http.on('request', (_req, res: ServerResponse) => {
    inFlight.add(res)
    if (closing) closeAfter(res)
    res.on('close', answered)
  })
  return (graceMs) =>
    new Promise<boolean>((resolve) => {
      closing = true
      for (const res of inFlight) closeAfter(res)
      const deadline = setTimeout(() => {
        http.closeAllConnections()
        resolve(false)
      }, graceMs)
      http.close(() => {
        clearTimeout(deadline)
        resolve(true)
      })
      http.closeIdleConnections()
    })
}
