import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP relay in front of a real server. `freeze()` keeps connections open but stops
 * relaying bytes: the dependency "hangs", which is how a stalled Cassandra looks to the driver.
 */
export interface TcpProxy {
  port: number
  freeze(): void
  thaw(): void
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let frozen = false
  const sockets = new Set<Socket>()
  const pairs: [Socket, Socket][] = []
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => socket.destroy())
    }
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
    pairs.push([client, upstream])
    if (frozen) {
      client.pause()
      upstream.pause()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no port')
  return {
    port: address.port,
    freeze() {
      frozen = true
      for (const [a, b] of pairs) {
        a.unpipe(b)
        b.unpipe(a)
        a.pause()
        b.pause()
      }
    },
    thaw() {
      frozen = false
      for (const [a, b] of pairs) {
        if (a.destroyed || b.destroyed) continue
        a.pipe(b)
        b.pipe(a)
        a.resume()
        b.resume()
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
