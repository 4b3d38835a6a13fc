import { randomUUID } from 'node:crypto'
import type { Client as SearchClient } from '@opensearch-project/opensearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { composeService } from '../../src/compose.js'
import { createSearchClient } from '../../src/search/search-client.js'
import { USER_ALIAS } from '../../src/search/sunbird-indexes.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { auditEventsOf, requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { keycloakAccountOf, login, refresh } from '../support/keycloak.js'
import { deletionStateOf, envelopeOf, lifecycle, personInBoth } from '../support/lifecycle.js'
import { capturedLogger } from '../support/captured-logger.js'
import { newPerson, seedEverywhere } from '../support/personal-data.js'
import { freePort } from '../support/spawned-server.js'
import { LOCAL_SEARCH } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = '0137000000000000000013'

describe('POST /api/user/v1/delete/cancel with live Keycloak tokens', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { publicKeyDir: '' } } })
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it('when a soft-deleted user cancels with their still-unexpired token, then they can log in again (password grant) and their tokens are accepted again', async () => {
    // Arrange: a soft deletion by the user, with a real token from a password grant.
    const person = await personInBoth(h, { rootOrgId: ORG })
    const tokens = (await login(person))!
    const asPerson = { 'x-authenticated-user-token': tokens.access_token }
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, asPerson))
    expect(await login(person)).toBeUndefined()
    expect(await refresh(tokens)).toBe(400)
    await expectError(await api.exportOf(person.id, asPerson), 'UNAUTHORIZED')
    await expectError(await api.status(person.id, asPerson), 'UNAUTHORIZED')
    await expectError(await api.cancel(randomUUID(), asPerson), 'UNAUTHORIZED')

    // Act
    const answer = await envelopeOf(await api.cancel(person.id, asPerson))

    // Assert
    expect(answer.status).toBe(200)
    expect(answer).toMatchObject({ id: 'api.user.delete.cancel', responseCode: 'OK', result: { response: 'SUCCESS' }, params: { err: null, status: 'SUCCESS' } })
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
    const again = await login(person)
    expect(again).toBeDefined()
    expect((await envelopeOf(await api.remove(person.id, { dryRun: true }, { 'x-authenticated-user-token': again?.access_token ?? '' }))).status).toBe(200)
    expect((await envelopeOf(await api.exportOf(person.id, asPerson))).status).toBe(200)
    const user = (await readUserState(h.db, person.id)).user
    expect([user?.get('status'), user?.get('isdeleted')]).toEqual([1, false])
    const [request] = await requestsOf(h.db, person.id)
    expect(request?.state).toBe('cancelled')
    expect(await auditEventsOf(h, request?.id ?? '')).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
    expect(await deletionStateOf(h.db, person.id)).toBeUndefined()
  })
})

describe('POST /api/user/v1/delete/cancel, who and when', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  const admin = (organisationId = ORG) => ({ 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId }] }] }) })
  beforeAll(async () => {
    h = await startHarness({ deletion: { graceDaySeconds: 1 } })
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it('when an ORG_ADMIN of the organisation cancels, then the user is restored; one of another organisation is refused', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, admin()))

    await expectError(await api.cancel(person.id, admin('0137000000000000000099')), 'FORBIDDEN')
    expect((await envelopeOf(await api.cancel(person.id, admin()))).status).toBe(200)

    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
  })

  it('when the managing parent cancels for a soft-deleted managed user (X-Authenticated-For), then the child is restored', async () => {
    const parent = await h.seed()
    const child = await personInBoth(h, { managedBy: parent.id })
    const asParent = api.asUser(parent.id, { 'x-authenticated-for': h.userToken({ sub: child.id, parentId: parent.id }) })
    await expectDeleted(await api.remove(child.id, { mode: 'soft' }, asParent))

    expect((await envelopeOf(await api.cancel(child.id, asParent))).status).toBe(200)
    expect((await readUserState(h.db, child.id)).user?.get('status')).toBe(1)
  })

  it('when the managed user is soft-deleted, then their managing parent (X-Authenticated-For) may still export them, follow and finish the deletion (not on Sunbird’s own route, whose answer stays); once erased, their token no longer serves', async () => {
    const parent = await h.seed()
    const child = await personInBoth(h, { managedBy: parent.id })
    const asParent = api.asUser(parent.id, { 'x-authenticated-for': h.userToken({ sub: child.id, parentId: parent.id }) })
    await expectDeleted(await api.remove(child.id, { mode: 'soft' }, asParent))

    const exported = await envelopeOf(await api.exportOf(child.id, asParent))
    const followed = await envelopeOf(await api.status(child.id, asParent))

    expect([exported.status, (exported.result.user as { row: { id: string } }).row.id]).toEqual([200, child.id])
    expect([followed.status, (followed.result.request as { state: string }).state]).toEqual([200, 'completed'])
    // The child themself stays locked out; so is their token in anyone else's hands, and on
    // Sunbird's own delete route it is refused as it always was.
    await expectError(await api.exportOf(child.id, api.asUser(child.id)), 'UNAUTHORIZED')
    const stranger = api.asUser(randomUUID(), { 'x-authenticated-for': h.userToken({ sub: child.id, parentId: parent.id }) })
    await expectError(await api.exportOf(child.id, stranger), 'UNAUTHORIZED')
    await expectError(await api.remove(child.id, {}, asParent), 'UNAUTHORIZED')

    // The parent finishes it on a route that lets a soft deletion be finished (seed 003's, hard).
    const finished = await h.service.app.request(`/api/v2/user/${child.id}/?hard=1`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.userToken({ sub: parent.id })}`, 'x-authenticated-for': h.userToken({ sub: child.id, parentId: parent.id }) },
    })
    expect(finished.status).toBe(204)
    await expectError(await api.status(child.id, asParent), 'UNAUTHORIZED')
  })

  it('when a grace period is cancelled, then the scheduled erasure is dropped: past eraseAt the sweeper leaves the user whole', async () => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    const asked = await envelopeOf(await api.remove(person.id, { gracePeriodDays: 1 }, admin()))

    expect((await envelopeOf(await api.cancel(person.id, api.asUser(person.id)))).status).toBe(200)
    await waitUntil('the erasure time to pass', () => Date.now() > Date.parse(String(asked.result.eraseAt)))
    await h.service.resumeOpen()

    const state = await readUserState(h.db, person.id)
    expect(state.user?.get('status')).toBe(1)
    expect(state.user?.get('email')).toBe(person.email)
    expect(state.lookups).toHaveLength(3)
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
    expect((await requestsOf(h.db, person.id))[0]?.state).toBe('cancelled')
  })

  it.each([
    ['not deleted', async (_h: Harness, _id: string): Promise<void> => undefined, 'USER_NOT_DELETED'],
    ['erased by a deletion without mode', async (_h: Harness, id: string): Promise<void> => void (await api.remove(id, {}, admin())), 'USER_ERASED'],
    [
      'erased at the end of a grace period',
      async (_h: Harness, id: string): Promise<void> => {
        const asked = await envelopeOf(await api.remove(id, { gracePeriodDays: 1 }, admin()))
        await waitUntil('the erasure time to pass', () => Date.now() > Date.parse(String(asked.result.eraseAt)))
        await h.service.resumeOpen()
      },
      'USER_ERASED',
    ],
    ['hard-deleted (a user that does not exist)', async (_h: Harness, id: string): Promise<void> => void (await api.remove(id, { mode: 'hard' }, admin())), 'USER_NOT_FOUND'],
  ] as const)('when the user is %s, then the cancel answers its own error and nothing changes', async (_state, arrange, code) => {
    const person = await personInBoth(h, { rootOrgId: ORG })
    await arrange(h, person.id)
    const before = await readUserState(h.db, person.id)

    await expectError(await api.cancel(person.id, admin()), code)

    const after = await readUserState(h.db, person.id)
    expect(after.user?.get('status')).toBe(before.user?.get('status'))
    expect(after.lookups).toHaveLength(before.lookups.length)
  })
})

/**
 * Cancels where the search engine or Redis did not answer: while the search document's flags cannot
 * be put back the cancel waits (503 naming the search engine, the user locked out); steps the soft
 * deletion still owed with nothing to undo are owed no more once it is cancelled.
 */
describe('POST /api/user/v1/delete/cancel while the search engine or Redis is unreachable', () => {
  let h: Harness
  /** An instance that reaches neither the search engine nor Redis. */
  let down: Harness
  /** An instance that reaches the search engine but not Redis, with a grace day of one second. */
  let noRedis: Harness
  let search: SearchClient
  const unreachable = async () => ({ hosts: ['127.0.0.1'], port: await freePort(), timeoutMs: 500 })
  const admin = (of: Harness) => ({ 'x-authenticated-user-token': of.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })
  const flagsOf = async (userId: string) => {
    const document = (await search.get({ index: USER_ALIAS, id: userId })).body._source as Record<string, unknown>
    return { status: document.status, isDeleted: document.isDeleted, firstName: document.firstName }
  }
  beforeAll(async () => {
    h = await startHarness()
    down = await startHarness({ search: await unreachable(), redis: { port: await freePort(), timeoutMs: 500 } })
    noRedis = await startHarness({ redis: { port: await freePort(), timeoutMs: 500 }, deletion: { graceDaySeconds: 1 } })
    search = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
  })
  afterAll(async () => {
    await Promise.all([h.close(), down.close(), noRedis.close(), search.close()])
  })

  it('when the search document’s flags cannot be put back, then 503 and the user stays locked out, the log naming the search engine and the store (not Keycloak); a cancel that reaches it restores them', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    await expectDeleted(await lifecycle(h).remove(p.id, { mode: 'soft' }, lifecycle(h).asUser(p.id)))
    expect(await flagsOf(p.id)).toMatchObject({ status: 2, isDeleted: true })
    const { logger, lines } = capturedLogger()
    const service = composeService(down.config, logger)

    try {
      const answer = await service.app.request('/api/user/v1/delete/cancel', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${down.apiBearer}`, 'x-authenticated-user-token': down.userToken({ sub: p.id }) },
        body: JSON.stringify({ request: { userId: p.id } }),
      })
      expect(answer.status).toBe(503)
    } finally {
      await service.close()
    }

    expect(lines.find((line) => line.msg === 'request refused')).toMatchObject({ dependency: 'search', reason: 'search unavailable', why: expect.stringContaining('search.user_alias') })
    expect(lines.filter((line) => line.dependency === 'keycloak')).toEqual([])
    const [cancelling] = await requestsOf(h.db, p.id)
    expect(cancelling).toMatchObject({ state: 'cancelling', steps: { searchUser: { status: 'pending' } } })
    expect((await readUserState(h.db, p.id)).user?.get('status')).toBe(2)
    await expectError(await lifecycle(h).exportOf(p.id, lifecycle(h).asUser(p.id)), 'UNAUTHORIZED')

    expect((await envelopeOf(await lifecycle(h).cancel(p.id, lifecycle(h).asUser(p.id)))).status).toBe(200)
    expect(await flagsOf(p.id)).toMatchObject({ status: 1, isDeleted: false, firstName: p.firstName })
    expect((await requestsOf(h.db, p.id))[0]?.state).toBe('cancelled')
  })

  it('when a soft deletion that could reach neither is cancelled, then their steps are owed no more (skipped, left as they were), the status shows nothing pending, and the sweeper leaves the request alone', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    await expectDeleted(await lifecycle(down).remove(p.id, { mode: 'soft' }, lifecycle(down).asUser(p.id)))
    const [partial] = await requestsOf(h.db, p.id)
    expect(partial).toMatchObject({ state: 'partial', steps: { searchUser: { status: 'pending', action: 'unreachable' }, cacheUser: { status: 'pending', action: 'unreachable' } } })

    expect((await envelopeOf(await lifecycle(h).cancel(p.id, lifecycle(h).asUser(p.id)))).status).toBe(200)

    const status = await envelopeOf(await lifecycle(h).status(p.id, admin(h)))
    const request = status.result.request as { state: string; steps: Record<string, { status: string; action: string }> }
    expect(request.state).toBe('cancelled')
    expect(request.steps).toMatchObject({ searchUser: { status: 'skipped', action: 'left-as-it-was' }, cacheUser: { status: 'skipped', action: 'left-as-it-was' } })
    expect(Object.entries(request.steps).filter(([, outcome]) => outcome.status === 'pending')).toEqual([])
    const recorded = (await requestsOf(h.db, p.id))[0]?.steps
    expect(await h.service.resumeRequest(partial?.id ?? '')).toMatchObject({ state: 'cancelled' })
    expect((await requestsOf(h.db, p.id))[0]?.steps).toEqual(recorded)
    expect(await flagsOf(p.id)).toMatchObject({ status: 1, isDeleted: false })
  })

  it('when a grace period whose cache step is owed (Redis down) is cancelled, then it reads scheduled until then, the search flags come back and the cache step is owed no more', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    const asked = await envelopeOf(await lifecycle(noRedis).remove(p.id, { gracePeriodDays: 1 }, lifecycle(noRedis).asUser(p.id)))
    expect(asked.result).toMatchObject({ state: 'scheduled' })
    const [scheduled] = await requestsOf(h.db, p.id)
    expect(scheduled).toMatchObject({ state: 'scheduled', steps: { searchUser: { status: 'done', action: 'flagged' }, cacheUser: { status: 'pending', action: 'unreachable' } } })
    expect(await flagsOf(p.id)).toMatchObject({ status: 2, isDeleted: true })

    expect((await envelopeOf(await lifecycle(noRedis).cancel(p.id, lifecycle(noRedis).asUser(p.id)))).status).toBe(200)

    const [cancelled] = await requestsOf(h.db, p.id)
    expect(cancelled).toMatchObject({ state: 'cancelled', steps: { searchUser: { status: 'done', action: 'restored' }, cacheUser: { status: 'skipped', action: 'left-as-it-was' } } })
    expect(await flagsOf(p.id)).toMatchObject({ status: 1, isDeleted: false, firstName: p.firstName })
    await waitUntil('the erasure time to pass', () => Date.now() > Date.parse(String(asked.result.eraseAt)))
    expect(await noRedis.service.resumeRequest(cancelled?.id ?? '')).toMatchObject({ state: 'cancelled' })
    expect((await readUserState(h.db, p.id)).user?.get('status')).toBe(1)
  })
})
