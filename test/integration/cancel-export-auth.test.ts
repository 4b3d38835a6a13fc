import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { expectDeleted, expectError } from '../support/assertions.js'
import { type Harness, startHarness } from '../support/harness.js'
import { createKeycloakUser, login } from '../support/keycloak.js'
import { lifecycle, personInBoth } from '../support/lifecycle.js'

const ORG = '0137000000000000000012'

async function accessTokenOf(user: { username: string; password: string }): Promise<string> {
  const tokens = await login(user)
  if (!tokens) throw new Error('password grant refused')
  return tokens.access_token
}

/**
 * Who hears what from cancel and export, with real tokens from the running Keycloak: a caller who
 * could be allowed for nobody (not the user, not their managing parent, no ORG_ADMIN) must not
 * learn from the answer which ids were users deleted for good.
 */
describe('cancel and export of a hard-deleted user', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let admin: Record<string, string>
  let stranger: Record<string, string>
  let hardDeletedId: string
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' } } })
    api = lifecycle(h)
    admin = { 'x-authenticated-user-token': await accessTokenOf(await createKeycloakUser({ roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })) }
    stranger = { 'x-authenticated-user-token': await accessTokenOf(await personInBoth(h)) }
    const person = await personInBoth(h, { rootOrgId: ORG })
    await expectDeleted(await api.remove(person.id, { mode: 'hard' }, admin))
    hardDeletedId = person.id
  })
  afterAll(async () => {
    await h.close()
  })

  it.each([
    ['cancel', (userId: string, headers: Record<string, string>) => api.cancel(userId, headers)],
    ['export', (userId: string, headers: Record<string, string>) => api.exportOf(userId, headers)],
  ])('%s by an authenticated stranger: then 403, as for an unknown id and an active user, not 404', async (_route, call) => {
    const active = await personInBoth(h, { rootOrgId: ORG })

    for (const userId of [hardDeletedId, randomUUID(), active.id]) await expectError(await call(userId, stranger), 'FORBIDDEN')
  })

  it.each([
    ['cancel', (userId: string, headers: Record<string, string>) => api.cancel(userId, headers)],
    ['export', (userId: string, headers: Record<string, string>) => api.exportOf(userId, headers)],
  ])('%s by an ORG_ADMIN of the user’s organisation: then still 404, the user does not exist', async (_route, call) => {
    await expectError(await call(hardDeletedId, admin), 'USER_NOT_FOUND')
  })
})
