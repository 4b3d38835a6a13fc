import { DependencyUnavailableError } from '../deletion/errors.js'
import type { IdentityProvider } from '../deletion/ports.js'
import type { KeycloakCallOutcome, ServiceMetrics } from './service-metrics.js'

/** Times every call to the identity provider (Keycloak) and counts its failures; behaviour unchanged. */
export function instrumentIdentity(identity: IdentityProvider, metrics: Pick<ServiceMetrics, 'observeKeycloakCall'>): IdentityProvider {
  async function measured<T>(operation: string, call: () => Promise<T>, outcomeOf: (result: T) => KeycloakCallOutcome): Promise<T> {
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    try {
      const result = await call()
      metrics.observeKeycloakCall(operation, outcomeOf(result), seconds())
      return result
    } catch (err) {
      metrics.observeKeycloakCall(operation, err instanceof DependencyUnavailableError ? 'unavailable' : 'error', seconds())
      throw err
    }
  }
  return {
    eraseAccount: (userId) =>
      measured(
        'erase_account',
        () => identity.eraseAccount(userId),
        (outcome) => outcome,
      ),
    disableAccount: (userId, onDisabled) =>
      measured(
        'disable_account',
        () => identity.disableAccount(userId, onDisabled),
        (result) => result.outcome,
      ),
    enableAccount: (userId, accountIds) =>
      measured(
        'enable_account',
        () => identity.enableAccount(userId, accountIds),
        (outcome) => outcome,
      ),
    readAccount: (userId) =>
      measured(
        'read_account',
        () => identity.readAccount(userId),
        (account) => (account ? 'found' : 'absent'),
      ),
    listAccounts: (userId) =>
      measured(
        'list_accounts',
        () => identity.listAccounts(userId),
        (accounts) => (accounts.length > 0 ? 'found' : 'absent'),
      ),
  }
}
