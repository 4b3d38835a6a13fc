import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SCRUBBED_USER_COLUMNS } from '../../src/store/cassandra-user-store.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { startHarness, type Harness } from '../support/harness.js'
import { columnsHoldingAValue, personalValues, readUserState } from '../support/user-state.js'

const ORG = '0137000000000000000001'

describe('POST /api/user/v1/delete against the real Cassandra', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h.close()
  })

  const asUser = (userId: string, extra: Record<string, string> = {}) => ({ 'x-authenticated-user-token': h.userToken({ sub: userId }), ...extra })

  describe('when a user deletes their own account', () => {
    it('then it answers the Sunbird success envelope and every trace of personal data is gone', async () => {
      const user = await h.seed({ externalIds: [{ provider: 'state-board', idType: 'student-id', externalId: `SB-${randomUUID()}` }] })
      const before = await readUserState(h.db, user.id)
      const pii = personalValues(user, Object.fromEntries(Object.entries(before.user!).map(([k, v]) => [k, v])))
      expect(before.lookups.length).toBe(4)

      const response = await h.deleteRequest({ request: { userId: user.id } }, asUser(user.id, { 'x-request-id': 'req-123' }))

      const body = await expectDeleted(response)
      expect(body.params.msgid).toBe('req-123')
      expect(body.params.resmsgid).toBe('req-123')
      const after = await readUserState(h.db, user.id)
      expect(after.user?.get('status')).toBe(2)
      expect(after.user?.get('isdeleted')).toBe(true)
      expect(after.user?.get('updatedby')).toBe(user.id)
      expect(after.user?.get('updateddate')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}:\d{3}\+0000$/)
      // Only the columns the table has: the scrub also names columns older Sunbird tables still carry.
      const columns = after.user?.keys() ?? []
      for (const [column, value] of Object.entries(SCRUBBED_USER_COLUMNS).filter(([name]) => columns.includes(name))) expect(after.user?.get(column), column).toEqual(value)
      expect(after.lookups).toHaveLength(0)
      expect(after.identities).toHaveLength(0)
      const rowText = JSON.stringify(after.user)
      for (const value of pii) expect(rowText).not.toContain(value)
    })

    it('then their row and their managed user’s keep only ids, status, organisation, guardian and dates: role, places, class and terms accepted blank, as Sunbird writes blanks', async () => {
      const user = await h.seed({ rootOrgId: ORG })
      const child = await h.seed({ rootOrgId: ORG, managedBy: user.id })
      const describing = ['profileusertypes', 'profileusertype', 'usertype', 'usersubtype', 'locationids', 'framework', 'tncacceptedversion', 'tncacceptedon', 'alltncaccepted']
      for (const id of [user.id, child.id]) expect(columnsHoldingAValue((await readUserState(h.db, id)).user)).toEqual(expect.arrayContaining(describing))

      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, asUser(user.id)))

      const kept = ['channel', 'createdby', 'createddate', 'flagsvalue', 'id', 'isdeleted', 'rootorgid', 'status', 'updatedby', 'updateddate', 'userid']
      for (const [id, expected] of [
        [user.id, kept],
        [child.id, [...kept, 'managedby'].sort()],
      ] as const) {
        const row = (await readUserState(h.db, id)).user
        expect(columnsHoldingAValue(row), id).toEqual(expected)
        expect(Object.fromEntries(describing.map((column) => [column, row?.get(column)])), id).toEqual({
          profileusertypes: '',
          profileusertype: '',
          usertype: '',
          usersubtype: '',
          locationids: null,
          framework: null,
          tncacceptedversion: '',
          tncacceptedon: null,
          alltncaccepted: null,
        })
      }
      expect((await readUserState(h.db, child.id)).user?.get('managedby')).toBe(user.id)
    })

    it('then a second request (by an ORG_ADMIN of the user) answers UOS_USRDLT0008 "User is already deleted."', async () => {
      const user = await h.seed({ rootOrgId: ORG })
      const asAdmin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, asUser(user.id)))
      await expectError(await h.deleteRequest({ request: { userId: user.id } }, asAdmin), 'ALREADY_DELETED')
    })

    it('then their still-unexpired token is refused at once with 401, here and as X-Authenticated-For', async () => {
      const user = await h.seed()
      const token = h.userToken({ sub: user.id }, { ttlSeconds: 3600 })
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': token }))
      await expectError(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': token }), 'UNAUTHORIZED')
      const forSomeoneElse = asUser(randomUUID(), { 'x-authenticated-for': h.userToken({ sub: user.id, parentId: randomUUID() }) })
      await expectError(await h.deleteRequest({ request: { userId: user.id } }, forSomeoneElse), 'UNAUTHORIZED')
    })

    it('then the gateway path /v1/user/delete behaves the same', async () => {
      const user = await h.seed()
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, asUser(user.id), '/v1/user/delete'))
    })

    it('then a federated id f:<provider>:<id> in the body deletes <id>', async () => {
      const user = await h.seed()
      await expectDeleted(await h.deleteRequest({ request: { userId: `f:sso-provider:${user.id}` } }, asUser(user.id)))
      expect((await readUserState(h.db, user.id)).user?.get('status')).toBe(2)
    })

    it('then a token whose sub is federated (f:<provider>:<id>) counts as that user', async () => {
      const user = await h.seed()
      const token = h.userToken({ sub: `f:sso-provider:${user.id}` })
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': token }))
    })

    it('then the user who does not exist gets 404 UOS_USRDLT0013 "user"', async () => {
      const ghost = randomUUID()
      await expectError(await h.deleteRequest({ request: { userId: ghost } }, asUser(ghost)), 'USER_NOT_FOUND')
    })
  })

  describe('when 25 deletes of one user arrive at once', () => {
    it('then exactly one succeeds and every other answers UOS_USRDLT0008', async () => {
      const user = await h.seed({ rootOrgId: ORG })
      // Each request from a different admin of the user's organisation, as a burst of retries or double-clicks would be.
      const admins = Array.from({ length: 25 }, () => h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }))
      const responses = await Promise.all(admins.map((token) => h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': token })))
      const statuses = responses.map((r) => r.status)
      expect(statuses.filter((s) => s === 200)).toHaveLength(1)
      expect(statuses.filter((s) => s === 400)).toHaveLength(24)
      for (const response of responses.filter((r) => r.status === 400)) await expectError(response, 'ALREADY_DELETED')
      const after = await readUserState(h.db, user.id)
      expect(after.user?.get('status')).toBe(2)
      expect(after.lookups).toHaveLength(0)
    })
  })

  describe('the request id a deletion is recorded under', () => {
    it('when the caller sends no request id, then the deletion is recorded, completed, under the msgid it was answered with (created without a compare-and-set)', async () => {
      const user = await h.seed()

      const body = await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, asUser(user.id)))

      expect(body.params.msgid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(await requestsOf(h.db, user.id)).toMatchObject([{ id: body.params.msgid, state: 'completed', requestedBy: user.id }])
    })

    it('when two deletions of different users send one X-Request-Id at once, then both complete: one under that id, the other under an id of its own', async () => {
      const [first, second] = [await h.seed(), await h.seed()]
      const shared = `shared-${randomUUID()}`

      const responses = await Promise.all([first, second].map((user) => h.deleteRequest({ request: { userId: user.id } }, asUser(user.id, { 'x-request-id': shared }))))

      for (const response of responses) await expectDeleted(response)
      const recorded = [...(await requestsOf(h.db, first.id)), ...(await requestsOf(h.db, second.id))]
      expect(recorded.map((request) => request.state)).toEqual(['completed', 'completed'])
      expect(recorded.filter((request) => request.id === shared)).toHaveLength(1)
      expect(recorded.filter((request) => request.id !== shared)[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    })
  })

  describe('when the target holds a role outside user-deletion-roles', () => {
    it('then it answers 0083 and deletes nothing', async () => {
      const user = await h.seed({ roles: [{ role: 'PUBLIC' }, { role: 'ORG_ADMIN', organisationIds: [ORG] }], rootOrgId: ORG })
      await expectError(await h.deleteRequest({ request: { userId: user.id } }, asUser(user.id)), 'ROLE_RESTRICTED')
      const after = await readUserState(h.db, user.id)
      expect(after.user?.get('status')).toBe(1)
      expect(after.lookups).toHaveLength(3)
    })
  })

  describe('who may delete whom', () => {
    const admin = (orgs: string[]) =>
      h.userToken({
        sub: randomUUID(),
        roles: [
          { role: 'PUBLIC', scope: [] },
          { role: 'ORG_ADMIN', scope: orgs.map((organisationId) => ({ organisationId })) },
        ],
      })

    it('when an ORG_ADMIN deletes a user of their organisation, then it succeeds', async () => {
      const user = await h.seed({ rootOrgId: ORG })
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': admin([ORG]) }))
    })

    it('when an ORG_ADMIN deletes a member of their organisation through user_organisation, then it succeeds', async () => {
      const user = await h.seed({ rootOrgId: 'other-root', organisations: ['other-root', ORG] })
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': admin([ORG]) }))
    })

    it('when an ORG_ADMIN deletes a user of another organisation, then 403 and nothing changes', async () => {
      const user = await h.seed({ rootOrgId: 'another-org' })
      await expectError(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': admin([ORG]) }), 'FORBIDDEN')
      expect((await readUserState(h.db, user.id)).user?.get('status')).toBe(1)
    })

    it('when a plain user deletes someone else, then 403 plain text and nothing changes', async () => {
      const user = await h.seed()
      await expectError(await h.deleteRequest({ request: { userId: user.id } }, asUser(randomUUID())), 'FORBIDDEN')
      expect((await readUserState(h.db, user.id)).lookups).toHaveLength(3)
    })

    it('when a parent deletes a managed child with the child token in X-Authenticated-For, then it succeeds', async () => {
      const parent = randomUUID()
      const child = await h.seed({ managedBy: parent })
      const headers = asUser(parent, { 'x-authenticated-for': h.userToken({ sub: child.id, parentId: parent }) })
      await expectDeleted(await h.deleteRequest({ request: { userId: child.id } }, headers))
    })

    it('when the X-Authenticated-For token names another parent, then 403', async () => {
      const child = await h.seed()
      const headers = asUser(randomUUID(), { 'x-authenticated-for': h.userToken({ sub: child.id, parentId: randomUUID() }) })
      await expectError(await h.deleteRequest({ request: { userId: child.id } }, headers), 'FORBIDDEN')
    })

    it('when the child row is managed by someone else than the token pair says, then 403', async () => {
      const parent = randomUUID()
      const child = await h.seed({ managedBy: randomUUID() })
      const headers = asUser(parent, { 'x-authenticated-for': h.userToken({ sub: child.id, parentId: parent }) })
      await expectError(await h.deleteRequest({ request: { userId: child.id } }, headers), 'FORBIDDEN')
    })
  })
})

describe('when orgAdminScope is "any" (Sunbird behaviour)', () => {
  it('then an ORG_ADMIN may delete a user of any organisation', async () => {
    const h = await startHarness({ authorization: { orgAdminScope: 'any' } })
    try {
      const user = await h.seed({ rootOrgId: 'somewhere-else' })
      const token = h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': token }))
    } finally {
      await h.close()
    }
  })
})
