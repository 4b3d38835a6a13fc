import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted, expectError } from '../support/assertions.js'
import { signalLocalServer } from '../support/faults.js'
import { startHarness, type Harness } from '../support/harness.js'
import { createKeycloakUser, keycloakUserStatus, login } from '../support/keycloak.js'
import { requestsOf } from '../support/deletion-requests.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = '0137000000000000000011'

const signalKeycloak = (signal: 'SIGSTOP' | 'SIGCONT') => signalLocalServer('keycloak', signal)

/** Whether the user's deletion request still owes the Keycloak step. */
async function owed(h: Harness, userId: string): Promise<number> {
  const [request] = await requestsOf(h.db, userId)
  return request?.steps.keycloak?.status === 'pending' && request.state === 'partial' ? 1 : 0
}

describe('when Keycloak stops in the middle of deletions', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({
      auth: { userToken: { publicKeyDir: '' }, keycloakAdmin: { timeoutMs: 500, retries: 1 } },
    })
  })
  afterAll(async () => {
    await signalKeycloak('SIGCONT')
    await h.close()
  })

  it('then Cassandra still completes, the Keycloak step is recorded as owed, and it converges once Keycloak is back', async () => {
    const admin = await createKeycloakUser({ roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
    const first = await createKeycloakUser()
    const second = await createKeycloakUser()
    for (const user of [first, second]) await h.seed({ id: user.id, username: user.username, email: user.email, rootOrgId: ORG })
    const [adminTokens, firstTokens] = [(await login(admin))!, (await login(first))!]
    // Warm the realm keys, as any earlier request would have.
    expect(await h.service.keys.getJWK(JSON.parse(Buffer.from(firstTokens.access_token.split('.')[0]!, 'base64url').toString()).kid)).toContain('PUBLIC KEY')

    await signalKeycloak('SIGSTOP')
    try {
      const started = Date.now()
      // Tokens still verify with the cached keys: Keycloak being down is no 401 and no 500.
      await expectDeleted(await h.deleteRequest({ request: { userId: first.id } }, { 'x-authenticated-user-token': firstTokens.access_token }))
      await expectDeleted(await h.deleteRequest({ request: { userId: second.id } }, { 'x-authenticated-user-token': adminTokens.access_token }))
      expect(Date.now() - started).toBeLessThan(8000)
      for (const user of [first, second]) {
        expect((await readUserState(h.db, user.id)).user?.get('email')).toBe('')
        expect(await owed(h, user.id)).toBe(1)
      }
      // A sweep while Keycloak is down completes nothing: the step stays owed. (What the sweep reports is
      // not asserted: any other server's sweeper on the keyspace may hold a request.)
      await h.service.resumeOpen()
      for (const user of [first, second]) expect(await owed(h, user.id)).toBe(1)
    } finally {
      await signalKeycloak('SIGCONT')
    }

    // Back: the same request again settles the second user's debt on the way to its 0008 ...
    expect(await keycloakUserStatus(second.id)).toBe(200)
    await expectError(await h.deleteRequest({ request: { userId: second.id } }, { 'x-authenticated-user-token': adminTokens.access_token }), 'ALREADY_DELETED')
    expect(await keycloakUserStatus(second.id)).toBe(404)
    expect(await owed(h, second.id)).toBe(0)

    // ... and the sweep settles the first.
    expect(await keycloakUserStatus(first.id)).toBe(200)
    const harness = h
    await waitUntil(
      "the first user's request to complete",
      async () => {
        await harness.service.resumeOpen()
        return (await requestsOf(harness.db, first.id))[0]?.state === 'completed'
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    expect(await keycloakUserStatus(first.id)).toBe(404)
    expect(await owed(h, first.id)).toBe(0)
    expect(await login(first)).toBeUndefined()
  })
})
