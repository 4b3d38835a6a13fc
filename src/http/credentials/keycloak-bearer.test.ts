import { describe, expect, it } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { expectRestError } from '../../../test/support/rest-answers.js'
import { deleteAccount } from '../../deletion/delete-account.js'
import { bearerCors } from '../cors.js'
import { drfDetail } from '../dialects/drf-detail.js'
import { defineOperation } from '../operation.js'
import { operations } from '../operations/index.js'
import { keycloakBearer } from './keycloak-bearer.js'

/**
 * The order in which the Bearer REST routes judge the person and the managed user they name: the
 * person first, with what the route admits, so a person the route locks out (deleted for good, or
 * soft-deleted where it does not admit them) gets their own 401 (`invalid_token`) whatever they send
 * beside their token, not the managed user's 403.
 */

const PERSON = '2b373937-5a1c-4c1a-9d2e-0a8f1c2b3d41'
const OTHER = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'
// Another person for the soft deletions: the lock-out gate never forgets PERSON's deletion for good.
const SOFT = '7c0e5f1a-3b2d-4e6f-8a9b-1c2d3e4f5a6b'

/**
 * A keycloak-bearer operation that, unlike the API's two deletes, does not admit a soft-deleted
 * person (as a route other than one that deletes or cancels would not).
 */
const noSoftDeletedPerson = defineOperation({
  id: 'test.bearer.no-soft-deleted-person',
  method: 'DELETE',
  paths: ['/test/bearer-no-soft-deleted-person'],
  summary: 'A keycloak-bearer operation that admits no soft-deleted person',
  tag: 'operations',
  credentials: keycloakBearer,
  request: {},
  errors: ['UNAUTHORIZED', 'MALFORMED_AUTHORIZATION', 'MANAGED_USER_TOKEN_REFUSED'],
  dialect: drfDetail,
  cors: bearerCors,
  async handle({ msgid }) {
    return { requestId: msgid }
  },
})

// Not managed by PERSON: a hard deletion of PERSON would take a managed user along.
const fakes = appOverFakes({ seed: [{ id: PERSON }, { id: OTHER }, { id: SOFT }] }, { operations: [...operations, noSoftDeletedPerson] })

/** A call by `person` (seed 003 on OTHER unless `path` says otherwise), with OTHER’s token as the managed user’s: refused (no parentId). */
function callWithRefusedManagedUser({
  person = PERSON,
  path = `/api/v2/user/${OTHER}/?hard=1`,
  headers = {},
}: {
  person?: string
  path?: string
  headers?: Record<string, string>
} = {}): Promise<Response> {
  const authorization = `Bearer ${fakes.userToken({ sub: person })}`
  return Promise.resolve(fakes.app.request(path, { method: 'DELETE', headers: { authorization, 'x-authenticated-for': fakes.userToken({ sub: OTHER }), ...headers } }))
}

const softDelete = (world: ReturnType<typeof fakes.reset>, userId: string) =>
  deleteAccount(world.deps, { requestId: `soft-${userId}`, userId, caller: { consumer: 'portal', userId, roles: [] }, mode: 'soft' })

describe('keycloak-bearer: a refused X-Authenticated-For', () => {
  it('when the person is active, then 403 UOS_USRDLT0141 with no challenge (the access token is not at fault)', async () => {
    fakes.reset()

    const response = await callWithRefusedManagedUser()

    expect(response.headers.get('www-authenticate')).toBeNull()
    await expectRestError('drf-detail', response, 'MANAGED_USER_TOKEN_REFUSED')
  })

  it('when the person was deleted for good, then their own lock-out: 401 with the invalid_token challenge, as without X-Authenticated-For', async () => {
    const world = fakes.reset()
    await deleteAccount(world.deps, { requestId: 'hard-1', userId: PERSON, caller: { consumer: 'portal', userId: PERSON, roles: [] }, mode: 'hard' })

    const response = await callWithRefusedManagedUser()

    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    await expectRestError('drf-detail', response, 'UNAUTHORIZED')
    expect(world.users.snapshot(OTHER)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when the person is soft-deleted and the route admits them (the deletes), then 403 UOS_USRDLT0141, and the managed user stays', async () => {
    const world = fakes.reset()
    await softDelete(world, SOFT)

    const response = await callWithRefusedManagedUser({ person: SOFT })

    expect(response.headers.get('www-authenticate')).toBeNull()
    await expectRestError('drf-detail', response, 'MANAGED_USER_TOKEN_REFUSED')
    expect(world.users.snapshot(OTHER)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when the person is soft-deleted and the route does not admit them, then the route’s lock-out: 401 invalid_token, as without X-Authenticated-For', async () => {
    const world = fakes.reset()
    await softDelete(world, SOFT)
    const path = '/test/bearer-no-soft-deleted-person'
    const alone = await fakes.app.request(path, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: SOFT })}` } })

    const response = await callWithRefusedManagedUser({ person: SOFT, path })

    for (const answer of [alone, response]) {
      expect(answer.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
      await expectRestError('drf-detail', answer, 'UNAUTHORIZED')
    }
  })

  it('when it comes with an Idempotency-Key, then the 403 neither replays the key’s answer nor claims the key', async () => {
    const world = fakes.reset()
    const refused = (key: string) => callWithRefusedManagedUser({ person: SOFT, path: `/api/v2/user/${SOFT}/`, headers: { 'idempotency-key': key } })

    // A key the person has not used yet: the refusal leaves it free for the request sent again.
    const refusedFirst = await refused('fresh')
    const sentAgain = await fakes.app.request(`/api/v2/user/${SOFT}/`, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: SOFT })}`, 'idempotency-key': 'fresh' } })
    // A key with a kept answer (the 204 just given): not replayed to the refused call.
    const refusedAfter = await refused('fresh')
    // A key no request may use (empty): the refusal comes first, as for any credential refusal.
    const refusedWithBadKey = await refused('')

    await expectRestError('drf-detail', refusedFirst, 'MANAGED_USER_TOKEN_REFUSED')
    expect([sentAgain.status, sentAgain.headers.get('idempotent-replayed')]).toEqual([204, null])
    expect(refusedAfter.headers.get('idempotent-replayed')).toBeNull()
    await expectRestError('drf-detail', refusedAfter, 'MANAGED_USER_TOKEN_REFUSED')
    await expectRestError('drf-detail', refusedWithBadKey, 'MANAGED_USER_TOKEN_REFUSED')
    expect(world.users.snapshot(SOFT)).toMatchObject({ isDeleted: true })
  })
})
