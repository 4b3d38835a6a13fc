import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted, expectError } from '../support/assertions.js'
import { startHarness, type Harness } from '../support/harness.js'
import { claimsOf, createKeycloakUser, ensureOtherRealm, keycloakUserStatus, login, masterAdminToken, refresh, type KeycloakTestUser } from '../support/keycloak.js'
import { requestsOf } from '../support/deletion-requests.js'
import { KEYCLOAK_URL } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'

const ORG = '0137000000000000000009'

/**
 * The whole flow with real tokens from the running Keycloak: keys from the realm's JWKS, users that
 * exist in Keycloak and Cassandra under one id, and the Keycloak account really gone afterwards.
 */
describe('with live Keycloak tokens', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' } } })
  })
  afterAll(async () => {
    await h.close()
  })

  async function personInBoth(options: Parameters<typeof createKeycloakUser>[0] & { rootOrgId?: string; managedBy?: string } = {}) {
    const account = await createKeycloakUser(options)
    await h.seed({ id: account.id, username: account.username, email: account.email, rootOrgId: options.rootOrgId, managedBy: options.managedBy })
    return account
  }

  async function deleteAs(tokens: { access_token: string }, userId: string, extra: Record<string, string> = {}) {
    return h.deleteRequest({ request: { userId } }, { 'x-authenticated-user-token': tokens.access_token, ...extra })
  }

  describe('when a user deletes their own account', () => {
    let user: KeycloakTestUser
    let tokens: { access_token: string; refresh_token: string }

    beforeAll(async () => {
      user = await personInBoth()
      tokens = (await login(user))!
      await expectDeleted(await deleteAs(tokens, user.id))
    })

    it('then the still-unexpired access token is refused by this service', async () => {
      await expectError(await deleteAs(tokens, user.id), 'UNAUTHORIZED')
    })

    it('then the Keycloak session is gone: the refresh token no longer works', async () => {
      expect(await refresh(tokens)).toBe(400)
    })

    it('then the Keycloak account is gone: the admin API answers 404 and a password login fails', async () => {
      expect(await keycloakUserStatus(user.id)).toBe(404)
      expect(await login(user)).toBeUndefined()
    })

    it('then Cassandra holds no personal data and the request completed with the Keycloak account deleted', async () => {
      const state = await readUserState(h.db, user.id)
      expect(state.user?.get('email')).toBe('')
      expect(state.user?.get('username')).toBe('')
      const [request] = await requestsOf(h.db, user.id)
      expect(request?.state).toBe('completed')
      expect(request?.steps.keycloak).toMatchObject({ status: 'done', action: 'deleted' })
    })
  })

  it('when a user writes the attributes their claims come from through their own account API, then Keycloak ignores it: no other person’s sub, no ORG_ADMIN', async () => {
    const user = await createKeycloakUser()
    const tokens = (await login(user))!
    const account = `${KEYCLOAK_URL}/realms/sunbird/account`
    const headers = { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' }
    const profile = (await (await fetch(account, { headers })).json()) as { attributes?: Record<string, string[]> }
    const victim = randomUUID()

    const write = await fetch(account, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        ...profile,
        attributes: { ...profile.attributes, federatedSubject: [`f:sunbird-fed:${victim}`], roles: [JSON.stringify([{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }])] },
      }),
    })

    // Accepted or refused, the attributes stay the administrators' (the realm's unmanaged attribute policy ADMIN_EDIT).
    expect(write.status).toBeLessThan(500)
    const claims = claimsOf((await login(user))!.access_token)
    expect(claims.sub).toBe(user.id)
    expect(claims.roles).toEqual([{ role: 'PUBLIC', scope: [] }])
  })

  it('when a federated user (sub f:<provider>:<id>) deletes their own account, then it succeeds and the account is gone', async () => {
    const user = await personInBoth({ federatedProvider: 'sunbird-fed' })
    const tokens = (await login(user))!
    expect(JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()).sub).toBe(`f:sunbird-fed:${user.id}`)
    await expectDeleted(await deleteAs(tokens, `f:sunbird-fed:${user.id}`))
    expect(await keycloakUserStatus(user.id)).toBe(404)
    expect((await readUserState(h.db, user.id)).user?.get('status')).toBe(2)
  })

  it('when a parent deletes a managed child with both live tokens, then it succeeds and the child account is gone', async () => {
    const parent = await personInBoth()
    const child = await personInBoth({ parentId: parent.id, managedBy: parent.id })
    const parentTokens = (await login(parent))!
    const childTokens = (await login(child))!
    await expectDeleted(await deleteAs(parentTokens, child.id, { 'x-authenticated-for': childTokens.access_token }))
    expect(await keycloakUserStatus(child.id)).toBe(404)
    expect(await keycloakUserStatus(parent.id)).toBe(200)
  })

  it('when an ORG_ADMIN deletes a user of their organisation, then it succeeds; of another organisation, then 403', async () => {
    const admin = await createKeycloakUser({
      roles: [
        { role: 'PUBLIC', scope: [] },
        { role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] },
      ],
    })
    const adminTokens = (await login(admin))!
    const member = await personInBoth({ rootOrgId: ORG })
    const outsider = await personInBoth({ rootOrgId: 'elsewhere-org' })
    await expectDeleted(await deleteAs(adminTokens, member.id))
    await expectError(await deleteAs(adminTokens, outsider.id), 'FORBIDDEN')
    expect(await keycloakUserStatus(outsider.id)).toBe(200)
  })

  it('when a plain user deletes someone else, then 403 and both accounts stay', async () => {
    const someone = await personInBoth()
    const other = await personInBoth()
    await expectError(await deleteAs((await login(other))!, someone.id), 'FORBIDDEN')
    expect(await keycloakUserStatus(someone.id)).toBe(200)
  })

  it('when the token comes from another realm of the same Keycloak, then 401', async () => {
    await ensureOtherRealm('elsewhere')
    const stranger = await createKeycloakUser({ realm: 'elsewhere', adminToken: await masterAdminToken() })
    const tokens = await login(stranger, 'elsewhere')
    expect(tokens).toBeDefined()
    await expectError(await deleteAs(tokens!, stranger.id), 'UNAUTHORIZED')
  })

  it('when the body names a user id that is not the token user, a plain Keycloak token does not help: 403', async () => {
    const me = await personInBoth()
    await expectError(await deleteAs((await login(me))!, randomUUID()), 'FORBIDDEN')
  })
})
