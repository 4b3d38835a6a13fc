import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { capturedLogger } from '../../test/support/captured-logger.js'
import { InMemoryIdempotencyKeys } from '../../test/support/fakes/in-memory-idempotency-keys.js'
import type { AppEnv } from './app-env.js'
import { beginIdempotent, IDEMPOTENCY_KEY_HEADER, type IdempotentOperation, REPLAYED_HEADER } from './idempotency.js'
import { storedUserIdParams } from './operations/rest-deletion.js'
import { requestContext } from './request-context.js'

/** An operation behind beginIdempotent that answers each run with the next of `answers`, and counts its runs. */
function operationAnswering(answers: (() => Response)[]) {
  const app = new Hono<AppEnv>()
  const settings = { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 }
  let runs = 0
  app.post('/op', async (c) => {
    const key = await beginIdempotent(c, settings, { id: 'api.test.op' }, 'consumer:portal')
    if (key.kind === 'replay') return key.response
    const answer = answers[runs++]
    if (!answer) throw new Error('no answer left')
    return key.kind === 'claimed' ? key.complete(answer()) : answer()
  })
  const send = (key = 'key-1') => Promise.resolve(app.request('/op', { method: 'POST', headers: { [IDEMPOTENCY_KEY_HEADER]: key } }))
  return { send, runs: () => runs }
}

const json =
  (status: number, headers: Record<string, string> = {}) =>
  () =>
    Response.json({ status }, { status, headers })

describe('beginIdempotent', () => {
  it('when the first answer was a 429 (the mass-deletion guard), then a retry with the same key runs anew instead of replaying the refusal and its stale Retry-After', async () => {
    const op = operationAnswering([json(429, { 'retry-after': '120' }), json(200)])
    const refused = await op.send()
    expect(refused.status).toBe(429)

    const retry = await op.send()

    expect(retry.status).toBe(200)
    expect(retry.headers.get(REPLAYED_HEADER)).toBeNull()
    expect(op.runs()).toBe(2)
    // The retry's answer is the one kept.
    const replay = await op.send()
    expect(replay.status).toBe(200)
    expect(replay.headers.get(REPLAYED_HEADER)).toBe('true')
    expect(op.runs()).toBe(2)
  })

  it('when the claim has run out before the answer (a request slower than its claim), then the answer stands, a warning says it was not kept, and a retry runs anew', async () => {
    const { logger, lines } = capturedLogger()
    const app = new Hono<AppEnv>().use(requestContext(logger))
    let now = 0
    const settings = { keys: new InMemoryIdempotencyKeys(() => now), inFlightSeconds: 30 }
    let runs = 0
    app.post('/op', async (c) => {
      const key = await beginIdempotent(c, settings, { id: 'api.test.op' }, 'consumer:portal')
      if (key.kind === 'replay') return key.response
      runs++
      // The run outlasts its claim.
      now += 31_000
      return key.kind === 'claimed' ? key.complete(json(200)()) : json(200)()
    })
    const send = () => Promise.resolve(app.request('/op', { method: 'POST', headers: { [IDEMPOTENCY_KEY_HEADER]: 'key-1' } }))

    expect((await send()).status).toBe(200)
    expect(lines.find((line) => line.msg === 'idempotency answer not stored')).toMatchObject({ level: 40, reason: 'claim gone' })
    const retry = await send()

    expect(retry.headers.get(REPLAYED_HEADER)).toBeNull()
    expect(runs).toBe(2)
  })

  it.each([401, 500, 503])('when the first answer was a %i, then a retry with the same key runs anew', async (status) => {
    const op = operationAnswering([json(status), json(200)])
    expect((await op.send()).status).toBe(status)

    const retry = await op.send()

    expect(retry.status).toBe(200)
    expect(op.runs()).toBe(2)
  })

  // 202: a batch job accepted; its replay names the same job.
  it.each([200, 202, 400, 403, 404])('when the first answer was a %i, then a retry with the same key replays it and nothing runs again', async (status) => {
    const op = operationAnswering([json(status), json(200)])
    const first = await op.send()

    const retry = await op.send()

    expect(retry.status).toBe(status)
    expect(retry.headers.get(REPLAYED_HEADER)).toBe('true')
    expect(await retry.text()).toBe(await first.text())
    expect(op.runs()).toBe(1)
  })

  it('when the body is nested thousands of levels deep (within the body limit), then the key is taken and kept as for any body, never a stack overflow', async () => {
    const app = new Hono<AppEnv>()
    const settings = { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 }
    const depth = 5000
    app.post('/op', async (c) => {
      c.set('body', JSON.parse(`{"request":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`))
      const key = await beginIdempotent(c, settings, { id: 'api.test.op' }, 'consumer:portal')
      if (key.kind === 'replay') return key.response
      return key.kind === 'claimed' ? key.complete(json(200)()) : json(200)()
    })
    const send = () => Promise.resolve(app.request('/op', { method: 'POST', headers: { [IDEMPOTENCY_KEY_HEADER]: 'deep' } }))

    expect((await send()).status).toBe(200)
    const replay = await send()
    expect(replay.status).toBe(200)
    expect(replay.headers.get(REPLAYED_HEADER)).toBe('true')
  })

  it('when a key was kept, before the operation read its path id as the route does, for a path id in upper case, then its retry is still the same request: replayed, not 422; another id with the key is still another request', async () => {
    const settings = { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 }
    let runs = 0
    const serving = (operation: IdempotentOperation) => {
      const app = new Hono<AppEnv>()
      app.delete('/users/:id', async (c) => {
        try {
          const key = await beginIdempotent(c, settings, operation, 'user:me')
          if (key.kind === 'replay') return key.response
          runs++
          return key.kind === 'claimed' ? key.complete(json(200)()) : json(200)()
        } catch (err) {
          return Response.json({ code: (err as { code?: string }).code }, { status: 422 })
        }
      })
      return (id: string) => Promise.resolve(app.request(`/users/${id}`, { method: 'DELETE', headers: { [IDEMPOTENCY_KEY_HEADER]: 'kept-before' } }))
    }
    const before = serving({ id: 'api.test.person-delete' })
    const now = serving({ id: 'api.test.person-delete', sameRequestParams: storedUserIdParams })
    const id = '2B373937-5A1C-4C1A-9D2E-0A8F1C2B3D41'
    expect((await before(id)).status).toBe(200)

    const retry = await now(id)
    const another = await now('0b1c2d3e-4f50-4617-8899-aabbccddeeff')

    expect([retry.status, retry.headers.get(REPLAYED_HEADER)]).toEqual([200, 'true'])
    expect([another.status, await another.json()]).toEqual([422, { code: 'IDEMPOTENCY_KEY_REUSED' }])
    expect(runs).toBe(1)
  })
})
