import { describe, expect, it } from 'vitest'
import { startContractServer } from '../support/contract-server.js'

describe('a DELETION_LEASE_MS shorter than the request deadline', () => {
  it('when the built server starts with it, then it warns once with both values, and serves all the same', async () => {
    // Keycloak's step bounded well within the lease, so the deadline is the one thing to warn about.
    const server = await startContractServer({ env: { DELETION_LEASE_MS: '5000', REQUEST_TIMEOUT_MS: '10000', KEYCLOAK_ADMIN_TIMEOUT_MS: '500', KEYCLOAK_ADMIN_RETRIES: '0' } })
    try {
      const line = JSON.parse(await server.logged((entry) => entry.includes('DELETION_LEASE_MS is not above'))) as Record<string, unknown>

      expect(line).toMatchObject({ level: 40, leaseMs: 5000, aboveMs: 10000, msg: expect.stringContaining('REQUEST_TIMEOUT_MS') })
      expect(server.logs.filter((entry) => entry.includes('DELETION_LEASE_MS is not above'))).toHaveLength(1)
      expect((await fetch(`${server.url}/health`)).status).toBe(200)
    } finally {
      await server.stop()
    }
  })
})
