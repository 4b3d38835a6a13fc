import { describe, expect, it } from 'vitest'
import { loadConfig } from './config/load-config.js'
import { leaseAdvice } from './lease-advice.js'

describe('leaseAdvice', () => {
  it('when the settings are the shipped ones, then there is nothing to say', () => {
    expect(leaseAdvice(loadConfig())).toEqual([])
  })

  it('when the lease is not above the request deadline, then that is said with both values', () => {
    const config = loadConfig({ deletion: { leaseMs: 10_000 }, http: { requestTimeoutMs: 10_000 } })

    expect(leaseAdvice(config)).toEqual([expect.objectContaining({ msg: expect.stringContaining('REQUEST_TIMEOUT_MS'), leaseMs: 10_000, aboveMs: 10_000 })])
  })

  it('when a Keycloak call with its retries can outlast the lease, then that is said with how long the call may take', () => {
    // Three tries of 2 s, and the pauses of 200 and 400 ms between them.
    const config = loadConfig({ deletion: { leaseMs: 5_000 }, http: { requestTimeoutMs: 1_000 }, auth: { keycloakAdmin: { timeoutMs: 2_000, retries: 2 } } })

    expect(leaseAdvice(config)).toEqual([expect.objectContaining({ msg: expect.stringContaining('KEYCLOAK_ADMIN_RETRIES'), leaseMs: 5_000, aboveMs: 6_600 })])
  })
})
