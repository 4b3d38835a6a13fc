import { Agent, type IncomingHttpHeaders, request, type ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { startStubServer } from '../../test/support/stub-http-server.js'
import { gracefulClose } from './graceful-close.js'

/** A stub server that answers each request when the test releases it, and a keep-alive client that reuses connections. */
async function start() {
  const held: ServerResponse[] = []
  const stub = await startStubServer((_request, res) => {
    held.push(res)
  })
  const close = gracefulClose(stub.server)
  const agent = new Agent({ keepAlive: true })
  const get = () =>
    new Promise<{ body: string; headers: IncomingHttpHeaders }>((resolve, reject) => {
      request(`${stub.url}/`, { agent }, (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk.toString()))
        res.on('end', () => resolve({ body, headers: res.headers }))
        res.on('error', reject)
      })
        .on('error', reject)
        .end()
    })
  const answerAll = () => {
    for (const res of held.splice(0)) res.end('done')
  }
  return { close, get, agent, stub, answerAll }
}

describe('gracefulClose', () => {
  const agents: Agent[] = []
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.destroy()
  })

  it('when a request is in flight, then it is answered in full with Connection: close, and close resolves true soon after', async () => {
    const { close, get, agent, stub, answerAll } = await start()
    agents.push(agent)
    const first = get()
    await stub.arrived(1)
    answerAll()
    await first // leaves an idle keep-alive connection behind
    const inFlight = get()
    await stub.arrived(2)
    const started = performance.now()

    const closing = close(5000)
    answerAll()
    const finished = await closing
    const answer = await inFlight

    expect(finished).toBe(true)
    expect(answer.body).toBe('done')
    expect(answer.headers.connection).toBe('close')
    // Not Node's 5 s keep-alive timeout: the connections were closed as soon as they went idle.
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('when a request outlives the grace period, then its connection is cut and close resolves false', async () => {
    const { close, get, agent, stub } = await start()
    agents.push(agent)
    const stuck = get().catch((err: unknown) => err)
    await stub.arrived(1)

    const finished = await close(200)

    expect(finished).toBe(false)
    expect(await stuck).toBeInstanceOf(Error)
  })
})
