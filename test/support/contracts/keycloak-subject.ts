import { KeycloakIdentity, type KeycloakAdminOptions } from '../../../src/store/keycloak-identity.js'
import type { HttpInterposer } from '../http-interposer.js'
import { createKeycloakUser, disableKeycloakAccount, login, masterAdminToken, refresh, type KeycloakTestUser, type TokenSet } from '../keycloak.js'
import { KEYCLOAK_URL, REALM } from '../test-env.js'
import type { AccountView, IdentityProviderSubject } from './identity-provider.contract.js'

/** The local realm's service client (config/keycloak/realm-sunbird.json), as the service uses it. */
const SERVICE_CLIENT = { clientId: 'user-delete-service', clientSecret: 'user-delete-service-secret' }

/**
 * The Keycloak adapter against the project's real Keycloak, reached through `interposer` (which
 * plays the network: down, stalled, or a removal refused). Accounts, sessions and what the account
 * still holds are read straight from Keycloak; accounts a case leaves behind are removed.
 * `adapter` adds settings of the adapter's own (e.g. a federation provider id).
 */
export function keycloakIdentity(interposer: HttpInterposer, adapter: Pick<KeycloakAdminOptions, 'federationProviderId'> = {}): IdentityProviderSubject<TokenSet> {
  interposer.reset()
  // A short time bound keeps the stalled case quick; one retry, as configured by default.
  const options: KeycloakAdminOptions = { baseUrl: interposer.url, realm: REALM, ...SERVICE_CLIENT, timeoutMs: 1500, retries: 1, ...adapter }
  const users = new Map<string, KeycloakTestUser>()
  const userUrl = (userId: string) => `${KEYCLOAK_URL}/admin/realms/${REALM}/users/${encodeURIComponent(userId)}`

  return {
    identity: new KeycloakIdentity(options),
    async createAccount() {
      const user = await createKeycloakUser()
      users.set(user.id, user)
      return user.id
    },
    async signIn(userId) {
      const user = users.get(userId)
      const tokens = user && (await login(user))
      if (!tokens) throw new Error(`cannot sign in ${userId}`)
      return tokens
    },
    isSignedIn: async (tokens) => (await refresh(tokens)) === 200,
    async account(userId): Promise<AccountView | undefined> {
      const response = await fetch(userUrl(userId), { headers: { authorization: `Bearer ${await masterAdminToken()}` } })
      if (response.status === 404) return undefined
      if (!response.ok) throw new Error(`read account: ${response.status}`)
      const account = (await response.json()) as { enabled: boolean; email?: string; firstName?: string; lastName?: string }
      return { enabled: account.enabled, personalValues: [account.email, account.firstName, account.lastName].filter((value): value is string => !!value) }
    },
    disableByAdministrator: (userId) => disableKeycloakAccount(userId),
    // Keycloak refuses removal itself for accounts it may not delete (e.g. read-only federation);
    // the interposer answers that refusal for this account, everything else is Keycloak's own.
    refuseRemovalOf: (userId) => interposer.answer((method, path) => method === 'DELETE' && path === `/admin/realms/${REALM}/users/${encodeURIComponent(userId)}`, 403),
    goDown: () => interposer.goDown(),
    stall: () => interposer.stall(),
    comeBack: () => interposer.restore(),
    // The adapter's own timeout runs in real time.
    passTimeBound: () => undefined,
    withRefusedCredentials: () => new KeycloakIdentity({ ...options, clientSecret: 'rotated-away' }),
    async dispose() {
      interposer.reset()
      const token = await masterAdminToken()
      for (const userId of users.keys()) {
        const response = await fetch(userUrl(userId), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
        await response.body?.cancel()
      }
    },
  }
}
