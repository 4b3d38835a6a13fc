import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { capturedLogger } from '../../test/support/captured-logger.js'
import { deferred } from '../../test/support/wait-until.js'
import type { AppEnv } from './app-env.js'
import { requestContext } from './request-context.js'

describe('requestContext', () => {
  it("when two requests log while both are in flight, then each line carries its own request's msgid and only its own fields", async () => {
    const { logger, lines } = capturedLogger()
    const bLogged = deferred()
    const app = new Hono<AppEnv>().use(requestContext(logger))
    app.get('/a', async (c) => {
      await bLogged.promise
      c.get('log').info({ step: 'a-step' }, 'from a')
      return c.text('a')
    })
    app.get('/b', (c) => {
      c.get('log').info({ step: 'b-step' }, 'from b')
      bLogged.resolve()
      return c.text('b')
    })

    // a starts first and waits while b is served: the two requests interleave.
    await Promise.all([app.request('/a', { headers: { 'x-request-id': 'req-a' } }), app.request('/b', { headers: { 'x-request-id': 'req-b' } })])

    expect(lines.find((line) => line.msg === 'from a')).toMatchObject({ msgid: 'req-a', step: 'a-step' })
    expect(lines.find((line) => line.msg === 'from b')).toMatchObject({ msgid: 'req-b', step: 'b-step' })
    const access = lines.filter((line) => line.msg === 'request')
    expect(access.map((line) => [line.msgid, line.status]).sort()).toEqual([
      ['req-a', 200],
      ['req-b', 200],
    ])
    for (const line of access) expect(line).not.toHaveProperty('step')
  })

  it('when the caller sends no usable request id, then the msgid the lines carry is the one the answer names', async () => {
    const { logger, lines } = capturedLogger()
    const app = new Hono<AppEnv>().use(requestContext(logger))
    app.get('/x', (c) => c.text(c.get('msgid')))

    const answer = await app.request('/x', { headers: { 'x-request-id': 'not acceptable\u0007' } })

    const msgid = await answer.text()
    expect(msgid).toMatch(/^[0-9a-f-]{36}$/)
    expect(lines.find((line) => line.msg === 'request')?.msgid).toBe(msgid)
  })

  it("when the answer names another request id than the caller's (theirs named a deletion already), then the access line names that one too; otherwise it adds nothing", async () => {
    const { logger, lines } = capturedLogger()
    const app = new Hono<AppEnv>().use(requestContext(logger))
    app.delete('/users/:id', (c) => c.body(null, 204, { 'x-request-id': c.req.param('id') === 'taken' ? 'fresh-id' : c.get('msgid') }))

    await app.request('/users/taken', { method: 'DELETE', headers: { 'x-request-id': 'reused-id' } })
    await app.request('/users/other', { method: 'DELETE', headers: { 'x-request-id': 'own-id' } })

    const access = lines.filter((line) => line.msg === 'request')
    expect(access[0]).toMatchObject({ msgid: 'reused-id', requestId: 'fresh-id' })
    expect(access[1]).toMatchObject({ msgid: 'own-id' })
    expect(access[1]).not.toHaveProperty('requestId')
  })
})
