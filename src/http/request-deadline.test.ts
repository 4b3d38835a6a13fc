import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'
import { answerByDeadline } from '../deletion/commit-gate.js'
import type { AppEnv } from './app-env.js'
import { requestDeadline } from './request-deadline.js'

/** Holds the event loop, as a saturated process does: every timer due meanwhile runs in the same turn. */
function holdEventLoop(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy: no timer can run
  }
}

function appWithDeadline(deadlineMs: number, handler: () => Promise<string>) {
  const app = new Hono()
  app.use('*', requestDeadline(deadlineMs))
  app.get('/', async (c) => c.text(await handler()))
  app.onError((err, c) => c.text(err instanceof HTTPException ? `deadline ${err.status}` : 'error', 500))
  return app
}

describe('requestDeadline', () => {
  it('when the handler answers in time, then its answer is the answer', async () => {
    const app = appWithDeadline(1000, async () => 'done')
    expect(await (await app.request('/')).text()).toBe('done')
  })

  it('when the handler has passed its point of no return, then the deadline does not answer and the handler\u2019s later answer is the answer', async () => {
    const app = new Hono<AppEnv>()
    app.use('*', requestDeadline(20))
    app.get('/', async (c) => {
      c.set('pastPointOfNoReturn', true)
      await new Promise((resolve) => setTimeout(resolve, 80))
      return c.text('accepted')
    })
    app.onError((err, c) => c.text(err instanceof HTTPException ? `deadline ${err.status}` : 'error', 500))

    expect(await (await app.request('/')).text()).toBe('accepted')
  })

  it('when a request starts, then answerBy is the deadline less the answer margin', async () => {
    const app = new Hono<AppEnv>()
    app.use('*', requestDeadline(10_000, 250))
    app.get('/', (c) => c.text(String(c.get('answerBy').getTime())))
    const before = Date.now()

    const answerBy = Number(await (await app.request('/')).text())

    expect(answerBy).toBeGreaterThanOrEqual(before + 9_750)
    expect(answerBy).toBeLessThanOrEqual(Date.now() + 9_750)
  })

  it('when the handler never answers, then the deadline answers (a 504 HTTPException, rendered as 503 by the service)', async () => {
    const app = appWithDeadline(20, () => new Promise<string>(() => undefined))
    expect(await (await app.request('/')).text()).toBe('deadline 504')
  })

  it('when an earlier request\u2019s deadline and this deletion\u2019s answer timer come due in one turn of a held event loop, then the deletion past its point of no return answers "accepted", not "retry"', async () => {
    // Arrange: request 1 starts first, so the deadline timers' list is due before the deletion's own
    // answer timer (a list of its own duration), though that timer is due before request 2's deadline.
    const app = appWithDeadline(200, () => new Promise<string>(() => undefined))
    const first = app.request('/') // never answers: its deadline heads the 200 ms list
    const deletion = appWithDeadline(200, () =>
      answerByDeadline(
        new Date(Date.now() + 150),
        () => 'accepted',
        (gate) => {
          gate.enter() // past the point of no return at once, and holding the lock
          gate.decided()
          return new Promise<string>(() => undefined)
        },
      ),
    )
    holdEventLoop(60)
    const second = deletion.request('/')

    // Act: hold the loop past every one of those timers.
    holdEventLoop(400)

    // Assert
    expect(await (await second).text()).toBe('accepted')
    expect(await (await first).text()).toBe('deadline 504')
  })
})
