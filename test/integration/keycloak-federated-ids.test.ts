import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeycloakIdentity } from '../../src/store/keycloak-identity.js'
import { expectDeleted } from '../support/assertions.js'
import { describeIdentityProviderContract } from '../support/contracts/identity-provider.contract.js'
import { keycloakIdentity } from '../support/contracts/keycloak-subject.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { startHttpInterposer, type HttpInterposer } from '../support/http-interposer.js'
import { claimsOf, createKeycloakUser, keycloakUserStatus, login, refresh, serviceToken } from '../support/keycloak.js'
import { personInBoth } from '../support/lifecycle.js'
import { KEYCLOAK_URL, REALM } from '../support/test-env.js'

/**
 * The Keycloak adapter with Sunbird's federation provider id set (sunbird_keycloak_user_federation_provider_id):
 * it looks for a user as `f:<provider>:<id>` first and as the plain id after a 404. The local realm
 * has no user-storage provider, and a real federated account (one Keycloak itself holds as
 * `f:<provider>:<id>`) cannot be made without one, so these cases hold native accounts: they show
 * that the real Keycloak answers 404 (not 400 or 500) for an `f:` id it does not hold, and that the
 * fallback then finds, signs out, deletes, disables and enables the native account. The federated
 * form being used when Keycloak holds it is covered by src/store/keycloak-identity.test.ts.
 */
const PROVIDER = 'sunbird-fed'
const usersPath = `/admin/realms/${REALM}/users/`
const federatedPathOf = (userId: string) => `${usersPath}${encodeURIComponent(`f:${PROVIDER}:${userId}`)}`

let interposer: HttpInterposer
beforeAll(async () => {
  interposer = await startHttpInterposer(KEYCLOAK_URL)
})
afterAll(async () => {
  await interposer?.close()
})

/** The adapter as the service builds it with the provider id set, through the interposer (the local realm's service client). */
const federatedAdapter = () =>
  new KeycloakIdentity({
    baseUrl: interposer.url,
    realm: REALM,
    clientId: 'user-delete-service',
    clientSecret: 'user-delete-service-secret',
    timeoutMs: 1500,
    retries: 1,
    federationProviderId: PROVIDER,
  })

/** The admin calls that reached Keycloak for this user, under either id, in order. */
const callsFor = (userId: string) => interposer.seen.filter((request) => request.path.includes(userId)).map((request) => `${request.method} ${request.path}`)

describeIdentityProviderContract(`KeycloakIdentity with federation provider id ${PROVIDER}, over native accounts`, () => keycloakIdentity(interposer, { federationProviderId: PROVIDER }))

describe('the real Keycloak and an f:<provider>:<id> it does not hold', () => {
  it('when the admin API is asked for the federated id of a native account, then read, sign-out, sessions and removal each answer 404 (no such user)', async () => {
    // Arrange
    const user = await createKeycloakUser()
    const url = `${KEYCLOAK_URL}${federatedPathOf(user.id)}`
    const headers = { authorization: `Bearer ${await serviceToken()}` }

    // Act
    const answers = await Promise.all(
      [fetch(url, { headers }), fetch(`${url}/logout`, { method: 'POST', headers }), fetch(`${url}/sessions`, { headers }), fetch(url, { method: 'DELETE', headers })].map(async (call) => {
        const response = await call
        await response.body?.cancel()
        return response.status
      }),
    )

    // Assert: "no such user", which is what sends the adapter on to the plain id.
    expect(answers).toEqual([404, 404, 404, 404])
    expect(await keycloakUserStatus(user.id)).toBe(200)
    await federatedAdapter().eraseAccount(user.id)
  })

  it('when a native account is erased, then the federated id is tried first, and the plain id is signed out and deleted', async () => {
    // Arrange
    const user = await createKeycloakUser()
    const session = (await login(user))!
    const identity = federatedAdapter()

    // Act
    const result = await identity.eraseAccount(user.id)

    // Assert
    expect(result).toBe('deleted')
    expect(callsFor(user.id)).toEqual([`POST ${federatedPathOf(user.id)}/logout`, `POST ${usersPath}${user.id}/logout`, `DELETE ${usersPath}${user.id}`])
    expect(await keycloakUserStatus(user.id)).toBe(404)
    expect(await refresh(session)).toBe(400)
  })

  it('when step-up asks when a native account’s session began, then it is found under the plain id', async () => {
    const user = await createKeycloakUser()
    const session = (await login(user))!
    const sessionId = claimsOf(session.access_token).sid as string
    const identity = federatedAdapter()

    const startedAt = await identity.sessionStartedAt(user.id, sessionId)

    expect(startedAt).toBeInstanceOf(Date)
    expect(Math.abs(Date.now() - (startedAt?.getTime() ?? 0))).toBeLessThan(60_000)
    expect(await identity.sessionStartedAt(user.id, randomUUID())).toBeUndefined()
    await identity.eraseAccount(user.id)
  })
})

describe('the service with sunbird_keycloak_user_federation_provider_id set', () => {
  let h: Harness
  beforeAll(async () => {
    // Admin calls go through the interposer so that the ids asked for can be seen.
    h = await startHarness({ auth: { userToken: { publicKeyDir: '', federationProviderId: PROVIDER }, keycloakAdmin: { baseUrl: interposer.url } } })
  })
  afterAll(async () => {
    await h?.close()
  })

  it('when a user with a federated subject (native account) deletes their own account, then the Keycloak step finds it and records deleted, not absent', async () => {
    // Arrange: `sub` is f:<provider>:<id> (the realm's mapper), the Keycloak account the plain id.
    const user = await personInBoth(h, { federatedProvider: PROVIDER })
    const tokens = (await login(user))!
    expect(claimsOf(tokens.access_token).sub).toBe(`f:${PROVIDER}:${user.id}`)

    // Act
    await expectDeleted(await h.deleteRequest({ request: { userId: `f:${PROVIDER}:${user.id}` } }, { 'x-authenticated-user-token': tokens.access_token }))

    // Assert
    const [request] = await requestsOf(h.db, user.id)
    expect(request?.steps.keycloak).toMatchObject({ status: 'done', action: 'deleted' })
    expect(callsFor(user.id)).toEqual([`POST ${federatedPathOf(user.id)}/logout`, `POST ${usersPath}${user.id}/logout`, `DELETE ${usersPath}${user.id}`])
    expect(await keycloakUserStatus(user.id)).toBe(404)
    expect(await refresh(tokens)).toBe(400)
  })
})
