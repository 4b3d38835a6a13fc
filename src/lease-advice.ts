import type { Config } from './config/config.js'
import { longestAccountErasureMs } from './store/keycloak-identity.js'

/** A DELETION_LEASE_MS too short for what a run may wait on: said at start-up, the service still starts. */
export interface LeaseAdvice {
  msg: string
  leaseMs: number
  /** The lease should be above this. */
  aboveMs: number
}

/**
 * What a short DELETION_LEASE_MS risks. A run that goes longer than the lease between two
 * checkpoints is taken over by the sweeper and stops at its next write: safe, but the work is done
 * twice and the run's answer is lost. Two waits are known from the settings: the request deadline
 * (the HTTP run holds the lease while the caller waits) and the slowest step, Keycloak's, its admin
 * calls each with their retries.
 */
export function leaseAdvice(config: Config): LeaseAdvice[] {
  const leaseMs = config.deletion.leaseMs
  const advice: LeaseAdvice[] = []
  if (leaseMs <= config.http.requestTimeoutMs) {
    advice.push({ msg: 'DELETION_LEASE_MS is not above REQUEST_TIMEOUT_MS: a deletion still being answered may be taken over by the sweeper', leaseMs, aboveMs: config.http.requestTimeoutMs })
  }
  const keycloakMs = longestAccountErasureMs(config.auth.keycloakAdmin, config.auth.userToken.federationProviderId)
  if (leaseMs <= keycloakMs) {
    advice.push({
      msg: 'DELETION_LEASE_MS is not above the longest Keycloak step (three admin calls per account id, each KEYCLOAK_ADMIN_TIMEOUT_MS with its KEYCLOAK_ADMIN_RETRIES): a run waiting on Keycloak may be taken over',
      leaseMs,
      aboveMs: keycloakMs,
    })
  }
  return advice
}
