import { DependencyUnavailableError } from '../deletion/errors.js'
import type { IdentityProvider } from '../deletion/ports.js'
import type { ServiceMetrics } from './service-metrics.js'

/** Times every call to the identity provider (Keycloak) and counts its failures; behaviour unchanged. */
export function instrumentIdentity(identity: IdentityProvider, metrics: Pick<ServiceMetrics, 'observeKeycloakCall'>): IdentityProvider {
  return {
    async eraseAccount(userId) {
      const started = performance.now()
      const seconds = () => (performance.now() - started) / 1000
      try {
        const outcome = await identity.eraseAccount(userId)
        metrics.observeKeycloakCall('erase_account', outcome, seconds())
        return outcome
      } catch (err) {
        metrics.observeKeycloakCall('erase_account', err instanceof DependencyUnavailableError ? 'unavailable' : 'error', seconds())
        throw err
      }
    },
  }
}
