import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted, expectError } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { keycloakAccountOf } from '../support/keycloak.js'
import { readTopic } from '../support/kafka.js'
import { columnsBeyondTombstone, deletionStateOf, envelopeOf, hasOutboxEvent, lifecycle, membershipCount, personInBoth } from '../support/lifecycle.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

const ORG = '0137000000000000000010'
type Mode = 'soft' | 'hard' | 'none'
const fieldsOf = (mode: Mode) => (mode === 'none' ? {} : { mode })

/**
 * Deletion modes over HTTP on the real Cassandra, Keycloak and Kafka: what soft and hard do to
 * every store, the repeat rules of seed 003 cell by cell, the new fields' validation, and
 * concurrent requests in mixed modes.
 */
describe('request.mode on POST /api/user/v1/delete', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
  })
  afterAll(async () => {
    await h.close()
  })

  describe('when a user soft-deletes their account', () => {
    it('then they are locked out, the Keycloak account is disabled but kept, every identifier stays reserved, the profile is kept, and no event is sent', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG, externalIds: [{ provider: 'state-board', idType: 'student-id', externalId: `SB-${randomUUID()}` }] })
      const before = await readUserState(h.db, person.id)

      await expectDeleted(await api.remove(person.id, { mode: 'soft' }, api.asUser(person.id)))

      const after = await readUserState(h.db, person.id)
      expect(after.user?.get('status')).toBe(2)
      expect(after.user?.get('isdeleted')).toBe(true)
      expect(after.user?.get('email')).toBe(before.user?.get('email'))
      expect(after.user?.get('firstname')).toBe(before.user?.get('firstname'))
      expect(after.lookups.map((row) => row.get('type')).sort()).toEqual(['email', 'externalid', 'phone', 'username'])
      expect(after.identities).toHaveLength(1)
      expect(after.roles).toEqual(['PUBLIC'])
      expect(await membershipCount(h.db, person.id)).toBe(1)
      expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: false, email: person.email })
      const [request] = await requestsOf(h.db, person.id)
      expect(request).toMatchObject({ state: 'completed' })
      expect(await hasOutboxEvent(h.db, request?.id ?? '')).toBe(false)
      expect(await deletionStateOf(h.db, person.id)).toEqual({ mode: 'soft', requestid: request?.id })
      await expectError(await api.remove(randomUUID(), {}, api.asUser(person.id)), 'UNAUTHORIZED')
    })
  })

  describe('when a user hard-deletes their account', () => {
    it('then everything Sunbird keeps goes too: identifiers freed, memberships and roles removed, the Keycloak account deleted, the row a tombstone, managed users the same, and the event published', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG, externalIds: [{ provider: 'state-board', idType: 'student-id', externalId: `SB-${randomUUID()}` }] })
      const child = await personInBoth(h, { rootOrgId: ORG, managedBy: person.id })

      await expectDeleted(await api.remove(person.id, { mode: 'hard' }, api.asUser(person.id, { 'x-request-id': `hard-${person.id}` })))

      for (const id of [person.id, child.id]) {
        const after = await readUserState(h.db, id)
        expect(after.user?.get('status'), id).toBe(2)
        expect(after.user?.get('isdeleted')).toBe(true)
        expect(after.user?.get('id')).toBe(id)
        expect(after.user?.get('userid')).toBe(id)
        expect(after.user?.get('createddate')).toEqual(expect.any(String))
        expect(after.user?.get('updateddate')).toEqual(expect.any(String))
        expect(await columnsBeyondTombstone(h.db, id)).toEqual([])
        expect(after.lookups).toHaveLength(0)
        expect(after.identities).toHaveLength(0)
        expect(after.roles).toEqual([])
        expect(await membershipCount(h.db, id)).toBe(0)
        expect(await keycloakAccountOf(id)).toBeUndefined()
        expect((await deletionStateOf(h.db, id))?.mode).toBe('hard')
      }
      await h.service.publishEvents()
      const event = await waitUntil('the hard deletion event', async () => (await readTopic(h.config.events.topic)).find((message) => message.value.includes(`hard-${person.id}`)))
      expect(JSON.parse(event.value)).toMatchObject({ eid: 'BE_JOB_REQUEST', edata: { userId: person.id, organisationId: ORG, managed_users: [child.id], action: 'delete-user' } })
    })
  })

  describe('the repeat rules (seed 003), cell by cell', () => {
    const cells: [request: Mode, deletedBy: Mode, answer: 'hard-deleted' | 'ALREADY_DELETED' | 'USER_NOT_FOUND'][] = [
      ['soft', 'soft', 'ALREADY_DELETED'],
      ['soft', 'hard', 'USER_NOT_FOUND'],
      ['soft', 'none', 'USER_NOT_FOUND'],
      ['hard', 'soft', 'hard-deleted'],
      ['hard', 'hard', 'USER_NOT_FOUND'],
      ['hard', 'none', 'hard-deleted'],
      ['none', 'soft', 'ALREADY_DELETED'],
      ['none', 'hard', 'ALREADY_DELETED'],
      ['none', 'none', 'ALREADY_DELETED'],
    ]

    it.each(cells)('when a %s request meets a user deleted by a %s request, then %s', async (request, deletedBy, answer) => {
      // Arrange: the first deletion by an ORG_ADMIN, the repeat by the user's own still-valid token
      // would be refused by the lock-out, so the repeat comes from an ORG_ADMIN of the organisation.
      const person = await personInBoth(h, { rootOrgId: ORG })
      const admin = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
      await expectDeleted(await api.remove(person.id, fieldsOf(deletedBy), admin))
      const before = await readUserState(h.db, person.id)

      // Act
      const response = await api.remove(person.id, fieldsOf(request), admin)

      // Assert
      if (answer === 'hard-deleted') {
        await expectDeleted(response)
        expect(await columnsBeyondTombstone(h.db, person.id)).toEqual([])
        expect((await readUserState(h.db, person.id)).roles).toEqual([])
        expect(await keycloakAccountOf(person.id)).toBeUndefined()
        expect((await deletionStateOf(h.db, person.id))?.mode).toBe('hard')
      } else {
        await expectError(response, answer)
        const after = await readUserState(h.db, person.id)
        expect(after.user?.get('status')).toBe(before.user?.get('status'))
        expect(after.lookups).toHaveLength(before.lookups.length)
        expect(after.roles).toEqual(before.roles)
      }
    })

    it('when a caller who could be allowed for someone names a hard-deleted user with a mode, then 404, even an ORG_ADMIN of another organisation; one allowed for nobody hears 403, as for any id', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })
      await expectDeleted(await api.remove(person.id, { mode: 'hard' }, api.asUser(person.id)))
      const adminElsewhere = { 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: '0137000000000000000099' }] }] }) }

      await expectError(await api.remove(person.id, { mode: 'hard' }, adminElsewhere), 'USER_NOT_FOUND')
      await expectError(await api.remove(person.id, { mode: 'soft' }, adminElsewhere), 'USER_NOT_FOUND')
      await expectError(await api.remove(person.id, { mode: 'hard' }, api.asUser(randomUUID())), 'FORBIDDEN')
      await expectError(await api.remove(person.id, { mode: 'soft' }, api.asUser(randomUUID())), 'FORBIDDEN')
    })
  })

  describe('invalid new fields', () => {
    const cases: [string, Record<string, unknown>, 'INVALID_DELETION_MODE' | 'INVALID_GRACE_PERIOD' | 'INVALID_DRY_RUN' | 'INVALID_MODE_COMBINATION', string][] = [
      ['an unknown mode', { mode: 'purge' }, 'INVALID_DELETION_MODE', 'mode'],
      ['a mode of the wrong type', { mode: 1 }, 'INVALID_DELETION_MODE', 'mode'],
      ['a fractional grace period', { gracePeriodDays: 1.5 }, 'INVALID_GRACE_PERIOD', 'gracePeriodDays'],
      ['a grace period as text', { gracePeriodDays: '7' }, 'INVALID_GRACE_PERIOD', 'gracePeriodDays'],
      ['a grace period of 0 days', { gracePeriodDays: 0 }, 'INVALID_GRACE_PERIOD', 'gracePeriodDays'],
      ['a grace period of 31 days', { gracePeriodDays: 31 }, 'INVALID_GRACE_PERIOD', 'gracePeriodDays'],
      ['dryRun as text', { dryRun: 'true' }, 'INVALID_DRY_RUN', 'dryRun'],
      ['a soft deletion with a grace period', { mode: 'soft', gracePeriodDays: 3 }, 'INVALID_MODE_COMBINATION', 'gracePeriodDays'],
    ]

    it.each(cases)('when the body has %s, then 400 CLIENT_ERROR with its code, a message naming the field, and nothing written', async (_name, fields, code, field) => {
      const person = await personInBoth(h)

      const body = await expectError(await api.remove(person.id, fields, api.asUser(person.id)), code)

      expect(typeof body === 'string' ? body : body.params.errmsg).toContain(field)
      expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
      expect(await requestsOf(h.db, person.id)).toEqual([])
      expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
    })
  })

  describe('concurrent requests in a mix of modes', () => {
    it('when two soft deletions and a Sunbird deletion of one active user arrive together, then the user is locked exactly once and the others answer by the rules', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })
      const admin = () => ({ 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })

      const answers = await Promise.all(
        [api.remove(person.id, { mode: 'soft' }, admin()), api.remove(person.id, {}, admin()), api.remove(person.id, { mode: 'soft' }, admin())].map(async (r) => envelopeOf(await r)),
      )

      const requests = await requestsOf(h.db, person.id)
      const locks = requests.filter((request) => request.steps.lock?.status === 'done')
      // One state change from active: exactly one request locked the user, the others answer by the rules.
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1)
      expect(locks).toHaveLength(1)
      for (const answer of answers.filter((a) => a.status !== 200)) expect(['UOS_USRDLT0008', 'UOS_USRDLT0013']).toContain(answer.params.err)
    })

    it('when two hard deletions of a soft-deleted user race, then exactly one performs it and the other answers 404', async () => {
      const person = await personInBoth(h, { rootOrgId: ORG })
      const admin = () => ({ 'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })
      await expectDeleted(await api.remove(person.id, { mode: 'soft' }, admin()))

      const answers = await Promise.all([api.remove(person.id, { mode: 'hard' }, admin()), api.remove(person.id, { mode: 'hard' }, admin())].map(async (r) => envelopeOf(await r)))

      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 404])
      expect(await columnsBeyondTombstone(h.db, person.id)).toEqual([])
    })
  })
})
