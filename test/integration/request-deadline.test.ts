import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserStore } from '../../src/deletion/ports.js'
import type { Envelope } from '../../src/http/envelope.js'
import { expectError } from '../support/assertions.js'
import { startHarness, type Harness } from '../support/harness.js'

/**
 * The real store behind a gate: every call waits until the test opens it, the way a Cassandra that
 * accepted the query and then went quiet looks to the service (the driver's own timeout is longer).
 */
function stalledStore() {
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const wrap = (store: UserStore): UserStore =>
    new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver)
        if (typeof value !== 'function') return value
        return async (...args: unknown[]) => {
          await gate
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        }
      },
    })
  return { wrap, release: () => open() }
}

describe('the request deadline (http.requestTimeoutMs)', () => {
  const DEADLINE_MS = 300
  const stall = stalledStore()
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ http: { requestTimeoutMs: DEADLINE_MS } }, { users: stall.wrap })
  })
  afterAll(async () => {
    stall.release()
    await h.close()
  })

  it('when the store stalls, then the caller gets 503 UOS_USRDLT0064 with Retry-After at about the deadline, not a hang', async () => {
    const userId = randomUUID()
    const started = performance.now()

    const response = await h.deleteRequest({ request: { userId } }, { 'x-authenticated-user-token': h.userToken({ sub: userId }), 'x-request-id': 'deadline-1' })
    const elapsed = performance.now() - started

    expect(response.headers.get('retry-after')).toBe(String(h.config.http.retryAfterSeconds))
    const body = (await expectError(response, 'SERVICE_UNAVAILABLE')) as Envelope
    expect(body.params.msgid).toBe('deadline-1')
    expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - 5)
    expect(elapsed).toBeLessThan(DEADLINE_MS + 700)
  })
})
