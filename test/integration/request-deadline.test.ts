import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Envelope } from '../../src/http/envelope.js'
import { expectError } from '../support/assertions.js'
import { stallUntilReleased, withFaults } from '../support/faults.js'
import { startHarness, type Harness } from '../support/harness.js'

describe('the request deadline (http.requestTimeoutMs)', () => {
  const DEADLINE_MS = 300
  // Every store call waits until the test opens the gate, the way a Cassandra that accepted the
  // query and then went quiet looks to the service (the driver's own timeout is longer).
  const stall = stallUntilReleased()
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ http: { requestTimeoutMs: DEADLINE_MS } }, { users: (store) => withFaults(store, stall.rule) })
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
