import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted, expectError } from '../support/assertions.js'
import { type Harness, startHarness } from '../support/harness.js'
import { createKeycloakUser, login } from '../support/keycloak.js'
import { lifecycle, personInBoth } from '../support/lifecycle.js'
import { expectRestError } from '../support/rest-answers.js'

const ORG = '0137000000000000000013'

async function accessTokenOf(user: { username: string; password: string }): Promise<string> {
  const tokens = await login(user)
  if (!tokens) throw new Error('password grant refused')
  return tokens.access_token
}

/**
 * What an authenticated caller who could be allowed for nobody (not the user, not their managing
 * parent, no ORG_ADMIN) hears about ids that were users deleted for good, with real tokens from the
 * running Keycloak on the real stores: the same as for an unknown id and an active user, on every
 * route that names a user, so the answer does not tell them which ids were users.
 */
describe('a hard-deleted user, asked about by an authenticated stranger', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let admin: Record<string, string>
  let strangerToken: string
  let stranger: Record<string, string>
  let hardDeletedId: string
  let softDeletedId: string
  let sunbirdDeletedId: string
  const call = (path: string, headers: Record<string, string>) => Promise.resolve(h.service.app.request(path, { method: 'DELETE', headers }))
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' } } })
    api = lifecycle(h)
    admin = { 'x-authenticated-user-token': await accessTokenOf(await createKeycloakUser({ roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })) }
    strangerToken = await accessTokenOf(await personInBoth(h))
    stranger = { 'x-authenticated-user-token': strangerToken }
    const [hard, soft, sunbird] = await Promise.all([personInBoth(h, { rootOrgId: ORG }), personInBoth(h, { rootOrgId: ORG }), personInBoth(h, { rootOrgId: ORG })])
    await expectDeleted(await api.remove(hard.id, { mode: 'hard' }, admin))
    await expectDeleted(await api.remove(soft.id, { mode: 'soft' }, admin))
    await expectDeleted(await api.remove(sunbird.id, {}, admin))
    hardDeletedId = hard.id
    softDeletedId = soft.id
    sunbirdDeletedId = sunbird.id
  })
  afterAll(async () => {
    await h.close()
  })

  it.each([{ mode: 'soft' }, { mode: 'hard' }, { mode: 'hard', dryRun: true }, { mode: 'hard', gracePeriodDays: 3 }])(
    'POST /api/user/v1/delete with %o: then 403 for a hard-deleted id, as for an unknown id and an active user, not 404',
    async (fields) => {
      const active = await personInBoth(h, { rootOrgId: ORG })

      for (const userId of [hardDeletedId, randomUUID(), active.id]) await expectError(await api.remove(userId, fields, stranger), 'FORBIDDEN')
    },
  )

  it('POST /api/user/v1/delete with no new field (frozen): a hard-deleted id answers the stranger exactly what an unknown id does, 403', async () => {
    const hard = await api.remove(hardDeletedId, {}, stranger)
    const unknown = await api.remove(randomUUID(), {}, stranger)

    expect([hard.status, await hard.text()]).toEqual([unknown.status, await unknown.text()])
    expect(hard.status).toBe(403)
  })

  it('POST /api/user/v1/delete with a mode, by an ORG_ADMIN of the user’s organisation: then still 404, the user does not exist', async () => {
    await expectError(await api.remove(hardDeletedId, { mode: 'hard' }, admin), 'USER_NOT_FOUND')
  })

  it.each(['/api/user/v1/delete/status', '/v1/user/delete/status'])(
    '%s by userId: then 403 for a hard-, soft- and Sunbird-deleted id, an unknown id and an active user alike; the receipt is not shown',
    async (path) => {
      const active = await personInBoth(h, { rootOrgId: ORG })

      for (const userId of [hardDeletedId, softDeletedId, sunbirdDeletedId, randomUUID(), active.id]) {
        await expectError(await h.deleteRequest({ request: { userId } }, stranger, path), 'FORBIDDEN')
      }
    },
  )

  it.each([
    ['seed 003, soft', (userId: string) => `/api/v2/user/${userId}/`],
    ['seed 003, hard', (userId: string) => `/api/v2/user/${userId}/?hard=1`],
    ['seed 000', (userId: string) => `/api/users/${userId}/`],
  ])('DELETE route of %s: then 403 {"detail"} for a hard-deleted id, as for an unknown id and an active user, not 404', async (_route, pathOf) => {
    const active = await personInBoth(h, { rootOrgId: ORG })

    for (const userId of [hardDeletedId, randomUUID(), active.id]) await expectRestError('drf-detail', await call(pathOf(userId), bearer(strangerToken)), 'FORBIDDEN')
  })
})
