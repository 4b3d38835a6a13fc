import type { types } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { acceptedRequest } from '../deletion/deletion-request.js'
import { buildReceipt } from '../deletion/receipt.js'
import { recordedSteps, requestOfRow } from './deletion-request-row.js'

const CREATED = new Date('2026-11-24T10:08:56.790Z')
const UPDATED = new Date('2026-11-24T10:09:12.000Z')

/** A driver row as the store reads it: a column the query did not select, or the row lacks, reads undefined. */
const rowOf = (columns: Record<string, unknown>) => ({ get: (name: string) => columns[name] }) as unknown as types.Row

/** The columns every request row has (its primary key and what its create writes). */
const REQUIRED = { id: 'req-1', userid: 'user-1', requestedby: 'creator-1', state: 'completed', createdat: CREATED, updatedat: UPDATED }

/** The request of the row's required columns alone, as the domain reads it. */
const BARE = {
  id: 'req-1',
  userId: 'user-1',
  requestedBy: 'creator-1',
  state: 'completed',
  plan: 'sunbird',
  steps: {},
  target: { rootOrgId: null, managedBy: null, organisationIds: [] },
  createdAt: CREATED,
  updatedAt: UPDATED,
}

/** Reads a row and collects the requests whose unreadable receipt it told. */
function read(columns: Record<string, unknown>) {
  const told: string[] = []
  const request = requestOfRow(rowOf(columns), (requestId) => told.push(requestId))
  return { request, told }
}

describe('requestOfRow, a user_deletion_request row as the domain reads it', () => {
  it('when every optional column is null, then the request has the defaults: Sunbird’s plan, no steps, an empty target, and no schedule, reason, receipt or canceller key at all', () => {
    const nulls = {
      plan: null,
      steps: null,
      eventpublishedat: null,
      rootorgid: null,
      managedby: null,
      organisationids: null,
      reason: null,
      receipt: null,
      cancelledby: null,
      eraseplan: null,
      eraseat: null,
    }
    const { request, told } = read({ ...REQUIRED, ...nulls })

    expect(request).toStrictEqual(BARE)
    expect(told).toEqual([])
  })

  it('when the optional columns are absent from the row (not selected, or written before they existed), then it reads as with them null', () => {
    const { request, told } = read(REQUIRED)

    expect(request).toStrictEqual(BARE)
    expect(told).toEqual([])
  })

  it('when every column holds a value, then each lands in its field, the target and dates as stored', () => {
    const eraseAt = new Date('2026-12-24T10:08:56.790Z')
    const { request } = read({
      ...REQUIRED,
      state: 'cancelled',
      plan: 'soft',
      eraseplan: 'hard',
      eraseat: eraseAt,
      rootorgid: 'org-root',
      managedby: 'manager-1',
      organisationids: ['org-1', 'org-2'],
      reason: 'withdrawn',
      cancelledby: 'creator-1',
    })

    expect(request).toStrictEqual({
      ...BARE,
      state: 'cancelled',
      plan: 'soft',
      schedule: { plan: 'hard', eraseAt },
      target: { rootOrgId: 'org-root', managedBy: 'manager-1', organisationIds: ['org-1', 'org-2'] },
      reason: 'withdrawn',
      cancelledBy: 'creator-1',
    })
  })

  it('when only one of the schedule columns holds a value, then the request has no schedule', () => {
    expect('schedule' in read({ ...REQUIRED, eraseplan: 'hard', eraseat: null }).request).toBe(false)
    expect('schedule' in read({ ...REQUIRED, eraseplan: null, eraseat: new Date('2026-12-24T10:08:56.790Z') }).request).toBe(false)
  })

  it('when the reason or the canceller is an empty text, then the request has no such key, as when null', () => {
    const { request } = read({ ...REQUIRED, reason: '', cancelledby: '' })

    expect(request).toStrictEqual(BARE)
  })

  it('when the receipt column holds a receipt, then the request carries it and nothing is told', () => {
    const accepted = acceptedRequest({ id: 'req-1', userId: 'user-1', requestedBy: 'creator-1', plan: 'sunbird', target: { rootOrgId: null, managedBy: null, organisationIds: [] }, now: CREATED })
    const receipt = buildReceipt(accepted, 'completed', 'a-receipt-key-of-sixteen', CREATED)
    const { request, told } = read({ ...REQUIRED, receipt: JSON.stringify(receipt) })

    expect(request.receipt).toEqual(receipt)
    expect(told).toEqual([])
  })

  it('when the receipt column holds text that is not a receipt, then the request is read without one, and its id is told', () => {
    const { request, told } = read({ ...REQUIRED, receipt: 'not a receipt' })

    expect(request).toStrictEqual(BARE)
    expect(told).toEqual(['req-1'])
  })

  it('when the receipt column holds an empty text, then the request has no receipt and nothing is told', () => {
    const { request, told } = read({ ...REQUIRED, receipt: '' })

    expect(request).toStrictEqual(BARE)
    expect(told).toEqual([])
  })
})

describe('recordedSteps, the steps and eventpublishedat columns as the domain reads them', () => {
  const at = '2026-11-24T10:08:56.790Z'
  const locked = { status: 'done', action: 'locked', at }
  const keycloak = { status: 'pending', action: 'unreachable', at }
  const queued = { status: 'pending', action: 'queued', at }

  it('when the steps map holds outcomes, then they read in the order the steps run, not the sorted order Cassandra returns keys in', () => {
    const steps = recordedSteps(rowOf({ steps: { keycloak: JSON.stringify(keycloak), lock: JSON.stringify(locked) }, eventpublishedat: null }))

    expect(steps).toStrictEqual({ lock: locked, keycloak })
    expect(Object.keys(steps)).toEqual(['lock', 'keycloak'])
  })

  it('when the steps map holds a key no step has, then it is left out', () => {
    expect(recordedSteps(rowOf({ steps: { lock: JSON.stringify(locked), retired: JSON.stringify(locked) } }))).toStrictEqual({ lock: locked })
  })

  it('when the relay confirmed the event (eventpublishedat), then the event reads published at that time, over the outcome the steps map holds for it', () => {
    const publishedAt = new Date('2026-11-24T10:09:00.000Z')
    const steps = recordedSteps(rowOf({ steps: { lock: JSON.stringify(locked), event: JSON.stringify(queued) }, eventpublishedat: publishedAt }))

    expect(steps).toStrictEqual({ lock: locked, event: { status: 'done', action: 'published', at: publishedAt.toISOString() } })
  })

  it('when the steps map is null but the event was confirmed, then the event is the only step', () => {
    const publishedAt = new Date('2026-11-24T10:09:00.000Z')

    expect(recordedSteps(rowOf({ steps: null, eventpublishedat: publishedAt }))).toStrictEqual({ event: { status: 'done', action: 'published', at: publishedAt.toISOString() } })
  })
})
