import { v5 as uuidv5 } from 'uuid'
import { describe, expect, it } from 'vitest'
import { buildDeleteUserEvent, type DeleteUserEventInput } from './build-event.js'

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const ADMIN = 'a0a0a0a0-1111-4222-8333-444455556666'
const CHILD = 'd1d1d1d1-1111-4222-8333-444455556666'
const NOW = new Date(Date.UTC(2024, 4, 20, 10, 8, 56, 812))
const MID = /^LP\.\d+\.[0-9a-f-]{36}$/

const input = (overrides: Partial<DeleteUserEventInput> = {}): DeleteUserEventInput => ({
  requestId: 'req-1',
  userId: USER,
  organisationId: 'org-1',
  suggestedUsers: [{ role: 'ORG_ADMIN', users: [ADMIN] }],
  managedUsers: [CHILD],
  now: NOW,
  ...overrides,
})

describe('buildDeleteUserEvent', () => {
  it('when an event is built, then its top-level keys are eid, ets, mid, actor, context, object, edata in that order', () => {
    const event = buildDeleteUserEvent(input())

    expect(Object.keys(event)).toEqual(['eid', 'ets', 'mid', 'actor', 'context', 'object', 'edata'])
  })

  it('when an event is built, then it has Sunbird’s BE_JOB_REQUEST envelope', () => {
    const event = buildDeleteUserEvent(input())

    expect(event).toMatchObject({
      eid: 'BE_JOB_REQUEST',
      ets: NOW.getTime(),
      actor: { id: 'Sunbird LMS Flink Job', type: 'System' },
      context: { pdata: { id: 'org.sunbird.platform', ver: '1.0' } },
    })
  })

  it('when an event is built, then mid is LP.<ets>.<uuid>', () => {
    const event = buildDeleteUserEvent(input())

    expect(event.mid).toMatch(MID)
    expect(String(event.mid).split('.')[1]).toBe(String(NOW.getTime()))
  })

  it('when the same request builds its event again (a run after a crash), then the mid is the same', () => {
    expect(buildDeleteUserEvent(input({ managedUsers: [] })).mid).toBe(buildDeleteUserEvent(input()).mid)
  })

  it('when an event is built, then the uuid of its mid is the name-based UUID (v5) of the request id', () => {
    expect(String(buildDeleteUserEvent(input()).mid).split('.')[2]).toBe(uuidv5('req-1', '6f1d3c52-8a47-4e0b-9c1e-2b7d5a9e4f30'))
  })

  it('when two requests build their events at the same instant, then their mids differ', () => {
    expect(buildDeleteUserEvent(input({ requestId: 'req-2' })).mid).not.toBe(buildDeleteUserEvent(input()).mid)
  })

  it('when an event is built, then context.cdata names the request and object names the user', () => {
    const event = buildDeleteUserEvent(input())

    expect(event.context).toEqual({ pdata: { id: 'org.sunbird.platform', ver: '1.0' }, cdata: { id: 'req-1', type: 'Request' } })
    expect(event.object).toEqual({ id: USER, type: 'user' })
  })

  it('when an event is built, then edata carries the delete-user instruction with users, organisation and iteration 1', () => {
    const event = buildDeleteUserEvent(input())

    expect(event.edata).toEqual({
      organisationId: 'org-1',
      userId: USER,
      suggested_users: [{ role: 'ORG_ADMIN', users: [ADMIN] }],
      managed_users: [CHILD],
      action: 'delete-user',
      iteration: 1,
    })
  })

  it('when a suggested-users entry has no users, then it is left out', () => {
    const event = buildDeleteUserEvent(
      input({
        suggestedUsers: [
          { role: 'ORG_ADMIN', users: [] },
          { role: 'CONTENT_CREATOR', users: [ADMIN] },
        ],
      }),
    )

    expect((event.edata as Record<string, unknown>).suggested_users).toEqual([{ role: 'CONTENT_CREATOR', users: [ADMIN] }])
  })

  it('when there is no organisation and nobody to suggest or manage, then organisationId is null and the lists are empty', () => {
    const event = buildDeleteUserEvent(input({ organisationId: null, suggestedUsers: [{ role: 'ORG_ADMIN', users: [] }], managedUsers: [] }))

    expect(event.edata).toMatchObject({ organisationId: null, suggested_users: [], managed_users: [] })
  })

  it('when a userName is given, then edata carries it', () => {
    const event = buildDeleteUserEvent(input({ userName: 'asha.k' }))

    expect(event.edata).toMatchObject({ userName: 'asha.k' })
  })

  it.each([
    ['absent', undefined],
    ['null', null],
    ['empty', ''],
  ])('when the userName is %s, then edata has no userName key', (_label, userName) => {
    const event = buildDeleteUserEvent(input(userName === undefined ? {} : { userName }))

    expect(event.edata).not.toHaveProperty('userName')
  })
})
