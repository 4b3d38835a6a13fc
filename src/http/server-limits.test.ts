import type { Server } from 'node:http'
import { connect } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appOverFakes } from '../../test/support/fakes/app-over-fakes.js'
import { continueWithinBodyLimit } from './server-limits.js'

const LIMIT = 4096

/** The first bytes the server sends for a request head, up to its first blank line. */
function firstAnswerHead(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.destroy()
      resolve(received.slice(0, end))
    })
    socket.on('error', reject)
    socket.write(head)
  })
}

describe('Expect: 100-continue on the built server', () => {
  let server: ServerType
  let port = 0
  beforeAll(async () => {
    const { app } = appOverFakes()
    port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port))
    })
    continueWithinBodyLimit(server as Server, LIMIT)
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  const postDeclaring = (length: number) => `POST /api/user/v1/delete HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`

  it('when the declared body is over the largest limit, then no 100 Continue is sent: the first answer is the 413, before any of the body', async () => {
    const head = await firstAnswerHead(port, postDeclaring(LIMIT * 500))

    expect(head).toMatch(/^HTTP\/1\.1 413 /)
  })

  it('when the declared body is within the limit, then the client is told to go on (100 Continue)', async () => {
    const head = await firstAnswerHead(port, postDeclaring(64))

    expect(head).toBe('HTTP/1.1 100 Continue')
  })
})
