import { connect, createServer, type Server, type Socket } from 'node:net'
import { type ServiceName, status } from '../../scripts/services.mjs'

/**
 * Faults for the tests that prove how the service behaves when a dependency misbehaves. Three
 * levels: a real adapter wrapped so chosen calls fail or stall (withFaults), the network to a real
 * server frozen (startTcpProxy), and a real server's processes paused (signalLocalServer).
 */

/** What happens to one call of a wrapped port; undefined lets it through. */
export type Fault = { throw: () => Error; afterRealCall?: boolean } | { waitFor: Promise<unknown> }

export type FaultRule = (method: string, args: unknown[]) => Fault | undefined

/**
 * The real adapter behind a seam (ServiceOverrides of compose.ts): every call goes through to it
 * unless the rule names a fault. `afterRealCall` makes the call happen, then fail, as a connection
 * that drops before the answer arrives.
 */
export function withFaults<T extends object>(port: T, rule: FaultRule): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      const real = (args: unknown[]) => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
      return async (...args: unknown[]) => {
        const fault = rule(String(property), args)
        if (!fault) return real(args)
        if ('waitFor' in fault) {
          await fault.waitFor
          return real(args)
        }
        if (fault.afterRealCall) await real(args)
        throw fault.throw()
      }
    },
  })
}

/** The first call of `method` fails with `error` (after running, when `afterRealCall`); later calls go through. */
export function failOnce(method: string, error: () => Error, options: { afterRealCall?: boolean } = {}): FaultRule {
  let failed = false
  return (called) => {
    if (called !== method || failed) return undefined
    failed = true
    return { throw: error, ...options }
  }
}

/** Every call for which `when` holds fails with `error`. */
export function failWhen(when: (method: string, args: unknown[]) => boolean, error: () => Error): FaultRule {
  return (method, args) => (when(method, args) ? { throw: error } : undefined)
}

/** Every call waits until `release()`, as a dependency that accepted the query and went quiet. */
export function stallUntilReleased(): { rule: FaultRule; release(): void } {
  let release: () => void = () => undefined
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  return { rule: () => ({ waitFor: gate }), release: () => release() }
}

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

/** Stops (SIGSTOP) or resumes (SIGCONT) the whole process group of a server scripts/services.mjs started. */
export async function signalLocalServer(name: ServiceName, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  const [server] = await status([name])
  if (!server?.pid) throw new Error(`the local ${name} was not started by scripts/services.mjs`)
  process.kill(-server.pid, signal)
}
