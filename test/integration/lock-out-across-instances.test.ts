import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { composeService, type Service } from '../../src/compose.js'
import { createLogger } from '../../src/logging/logger.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { startHarness, type Harness } from '../support/harness.js'

/**
 * Two instances of the service on one Cassandra, each with its own in-process lock-out cache: a
 * user deleted through A is refused on B within 1 s, although B had just let that user in.
 */
describe('lock-out across two instances on one Cassandra', () => {
  let h: Harness
  let b: Service
  beforeAll(async () => {
    h = await startHarness()
    b = composeService(h.config, createLogger(h.config.logging.level))
  })
  afterAll(async () => {
    await Promise.all([h?.close(), b?.close()])
  })

  const exportOn = (service: Service, userId: string) =>
    service.app.request('/api/user/v1/export', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.apiBearer}`, 'x-authenticated-user-token': h.userToken({ sub: userId }) },
      body: JSON.stringify({ request: { userId } }),
    })

  it('when a user B has just served is deleted through A, then B refuses their token with 401 UOS_0070 within 1 s of A answering', async () => {
    const lags: number[] = []
    for (let i = 0; i < 5; i++) {
      // Arrange: B lets the user in, so its cache holds "not deleted".
      const user = await h.seed()
      expect((await exportOn(b, user.id)).status).toBe(200)

      // Act
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) }))
      const answeredAt = performance.now()
      let refused: Response | undefined
      while (!refused && performance.now() - answeredAt < 3000) {
        const response = await exportOn(b, user.id)
        if (response.status === 401) refused = response
        else await new Promise((resolve) => setTimeout(resolve, 20))
      }
      lags.push(performance.now() - answeredAt)

      // Assert
      expect(refused, 'B still served the deleted user after 3 s').toBeDefined()
      await expectError(refused as Response, 'UNAUTHORIZED')
    }
    process.stderr.write(`lock-out lag on the other instance (ms): ${lags.map((ms) => ms.toFixed(0)).join(', ')}\n`)
    expect(Math.max(...lags)).toBeLessThan(1000)
  })
})
