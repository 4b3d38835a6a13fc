import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { gracefulClose } from './graceful-close.js'

/** A server whose handler answers after `delayMs`, and a keep-alive client that reuses connections. */
async function start(delayMs: number) {
  const server = createServer((_req, res) => {
    setTimeout(() => res.end('done'), delayMs)
  })
  const close = gracefulClose(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const agent = new Agent({ keepAlive: true })
  const get = () =>
    new Promise<{ body: string; headers: IncomingHttpHeaders }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, agent }, (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk.toString()))
        res.on('end', () => resolve({ body, headers: res.headers }))
        res.on('error', reject)
      })
        .on('error', reject)
        .end()
    })
  return { server, close, get, agent }
}

describe('gracefulClose', () => {
  const agents: Agent[] = []
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.destroy()
  })

  it('when a request is in flight, then it is answered in full with Connection: close, and close resolves true soon after', async () => {
    const { close, get, agent } = await start(200)
    agents.push(agent)
    await get() // leaves an idle keep-alive connection behind
    const inFlight = get()
    await new Promise((resolve) => setTimeout(resolve, 50))
    const started = performance.now()

    const finished = await close(5000)
    const answer = await inFlight

    expect(finished).toBe(true)
    expect(answer.body).toBe('done')
    expect(answer.headers.connection).toBe('close')
    // Not Node's 5 s keep-alive timeout: the connections were closed as soon as they went idle.
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('when a request outlives the grace period, then its connection is cut and close resolves false', async () => {
    const { close, get, agent } = await start(10_000)
    agents.push(agent)
    const stuck = get().catch((err: unknown) => err)
    await new Promise((resolve) => setTimeout(resolve, 50))

    const finished = await close(200)

    expect(finished).toBe(false)
    expect(await stuck).toBeInstanceOf(Error)
  })
})
