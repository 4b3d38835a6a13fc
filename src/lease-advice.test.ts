import { describe, expect, it } from 'vitest'
import { loadConfig } from './config/load-config.js'
import { leaseAdvice } from './lease-advice.js'

describe('leaseAdvice', () => {
  it('when the settings are the shipped ones, then there is nothing to say', () => {
    expect(leaseAdvice(loadConfig())).toEqual([])
  })

  it('when the lease is not above the request deadline, then that is said with both values', () => {
    const config = loadConfig({ deletion: { leaseMs: 10_000 }, http: { requestTimeoutMs: 10_000 }, auth: { keycloakAdmin: { timeoutMs: 1_000, retries: 0 } } })

    expect(leaseAdvice(config)).toEqual([expect.objectContaining({ msg: expect.stringContaining('REQUEST_TIMEOUT_MS'), leaseMs: 10_000, aboveMs: 10_000 })])
  })

  it('when the Keycloak step (its admin calls with their retries) can outlast the lease, then that is said with how long it may take', () => {
    // Three calls (sign-out, removal, disable), each three tries of 2 s with pauses of 200 and 400 ms.
    const config = loadConfig({ deletion: { leaseMs: 5_000 }, http: { requestTimeoutMs: 1_000 }, auth: { keycloakAdmin: { timeoutMs: 2_000, retries: 2 } } })

    expect(leaseAdvice(config)).toEqual([expect.objectContaining({ msg: expect.stringContaining('KEYCLOAK_ADMIN_RETRIES'), leaseMs: 5_000, aboveMs: 3 * 6_600 })])
  })

  it('when a federation provider is set, then the step may act on two accounts of the person, and twice as long is said', () => {
    const config = loadConfig({
      deletion: { leaseMs: 5_000 },
      http: { requestTimeoutMs: 1_000 },
      auth: { keycloakAdmin: { timeoutMs: 2_000, retries: 2 }, userToken: { federationProviderId: 'sunbird-fed' } },
    })

    expect(leaseAdvice(config)).toEqual([expect.objectContaining({ aboveMs: 2 * 3 * 6_600 })])
  })
})
