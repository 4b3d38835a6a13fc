import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { disableKeycloakAccount, keycloakAccountOf, masterAdminToken } from '../support/keycloak.js'
import { envelopeOf, lifecycle, personInBoth } from '../support/lifecycle.js'
import { readUserState } from '../support/user-state.js'
import { KEYCLOAK_URL, REALM } from '../support/test-env.js'

const ORG = '0137000000000000000013'

/** An administrator removes the account from Keycloak (admin API). */
async function removeKeycloakAccount(id: string): Promise<void> {
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms/${REALM}/users/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${await masterAdminToken()}` } })
  await response.body?.cancel()
  if (!response.ok) throw new Error(`remove account: ${response.status}`)
}

/**
 * A cancel puts back what the soft deletion changed in the real Keycloak and nothing else: the
 * accounts the deletion disabled (recorded by Keycloak id in the step's outcome) are enabled, one
 * an administrator disabled before stays disabled. The local realm holds native accounts only, so a
 * person here has one account; the federated and native pair is covered by the unit tier
 * (src/store/keycloak-identity.test.ts, src/deletion/cancel-deletion.test.ts).
 */
describe('POST /api/user/v1/delete/cancel and the Keycloak accounts the soft deletion disabled', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  const admin = () => ({ 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it('when the account was enabled, then the deletion records it as disabled by it and the cancel enables it', async () => {
    // Arrange
    const person = await personInBoth(h, { rootOrgId: ORG })
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, admin()))
    const [deleted] = await requestsOf(h.db, person.id)
    expect(deleted?.steps.keycloak).toMatchObject({ status: 'done', action: 'disabled', restore: { disabledAccounts: [person.id] } })
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: false })

    // Act
    const answer = await envelopeOf(await api.cancel(person.id, admin()))

    // Assert
    expect(answer.status).toBe(200)
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
    const [request] = await requestsOf(h.db, person.id)
    expect(request).toMatchObject({ state: 'cancelled', steps: { keycloak: { status: 'done', action: 'enabled' } } })
  })

  it('when an administrator had disabled the account before the deletion, then the cancel restores the user and leaves the account disabled', async () => {
    // Arrange
    const person = await personInBoth(h, { rootOrgId: ORG })
    await disableKeycloakAccount(person.id)
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, admin()))
    const [deleted] = await requestsOf(h.db, person.id)
    expect(deleted?.steps.keycloak).toMatchObject({ status: 'done', action: 'disabled', restore: { disabledAccounts: [] } })

    // Act
    const answer = await envelopeOf(await api.cancel(person.id, admin()))

    // Assert
    expect(answer.status).toBe(200)
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: false })
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    const [request] = await requestsOf(h.db, person.id)
    expect(request).toMatchObject({ state: 'cancelled', steps: { keycloak: { status: 'done', action: 'left-as-it-was' } } })
  })

  it('when the account the deletion disabled was removed from Keycloak since, then the cancel completes, recording absent', async () => {
    // Arrange
    const person = await personInBoth(h, { rootOrgId: ORG })
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, admin()))
    await removeKeycloakAccount(person.id)

    // Act
    const answer = await envelopeOf(await api.cancel(person.id, admin()))

    // Assert
    expect(answer.status).toBe(200)
    expect(await keycloakAccountOf(person.id)).toBeUndefined()
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    const [request] = await requestsOf(h.db, person.id)
    expect(request).toMatchObject({ state: 'cancelled', steps: { keycloak: { status: 'done', action: 'absent' } } })
  })
})
