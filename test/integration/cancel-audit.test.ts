import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import type { AuditRecord } from '../../src/deletion/ports.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { auditEventsOf, requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { keycloakAccountOf } from '../support/keycloak.js'
import { deletionStateOf, envelopeOf, lifecycle, personInBoth } from '../support/lifecycle.js'
import { readUserState } from '../support/user-state.js'

const ORG = '0137000000000000000013'

/**
 * A cancel whose `deletion.cancelled` record cannot be stored (the audit's writes exhausted) is not
 * recorded `cancelled`: it stays `cancelling` with its hold `restoring` until the record is stored,
 * by the sweeper or the same cancel again. Over the real Cassandra and Keycloak; the audit trail's
 * append is made to fail for that one record (as CassandraAuditTrail fails it after its writes).
 */
describe('POST /api/user/v1/delete/cancel when its audit record cannot be stored', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let failCancelledRecords = 0
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
    const append = h.service.audit.append.bind(h.service.audit)
    h.service.audit.append = async (record: AuditRecord) => {
      if (record.event === 'deletion.cancelled' && failCancelledRecords > 0) {
        failCancelledRecords--
        throw new DependencyUnavailableError('cassandra')
      }
      return append(record)
    }
  })
  afterAll(async () => {
    await h.close()
  })

  async function softDeleted() {
    const person = await personInBoth(h, { rootOrgId: ORG })
    await expectDeleted(await api.remove(person.id, { mode: 'soft' }, api.asUser(person.id)))
    const [request] = await requestsOf(h.db, person.id)
    return { person, requestId: request?.id ?? '' }
  }

  it('when the record cannot be stored, then 503, the request stays cancelling under a restoring hold, and the sweeper stores the record and finishes the cancel', async () => {
    // Arrange
    const { person, requestId } = await softDeleted()
    failCancelledRecords = 1

    // Act
    await expectError(await api.cancel(person.id, api.asUser(person.id)), 'SERVICE_UNAVAILABLE')

    // Assert: not ended unaudited; the user is back, the request left to the sweeper.
    expect((await requestsOf(h.db, person.id))[0]?.state).toBe('cancelling')
    expect(await deletionStateOf(h.db, person.id)).toEqual({ mode: 'restoring', requestid: requestId })
    expect(await auditEventsOf(h, requestId)).not.toContain('deletion.cancelled')

    expect(await h.service.resumeRequest(requestId)).toEqual({ state: 'cancelled', closed: false })

    expect((await requestsOf(h.db, person.id))[0]?.state).toBe('cancelled')
    expect((await auditEventsOf(h, requestId)).filter((event) => event === 'deletion.cancelled')).toHaveLength(1)
    expect(await deletionStateOf(h.db, person.id)).toBeUndefined()
    expect((await readUserState(h.db, person.id)).user?.get('status')).toBe(1)
    expect(await keycloakAccountOf(person.id)).toMatchObject({ enabled: true })
  })

  it('when the record cannot be stored, then the same cancel again stores it once and answers 200', async () => {
    const { person, requestId } = await softDeleted()
    failCancelledRecords = 1
    await expectError(await api.cancel(person.id, api.asUser(person.id)), 'SERVICE_UNAVAILABLE')

    const answer = await envelopeOf(await api.cancel(person.id, api.asUser(person.id)))

    expect(answer).toMatchObject({ status: 200, result: { response: 'SUCCESS' } })
    expect((await requestsOf(h.db, person.id))[0]?.state).toBe('cancelled')
    expect((await auditEventsOf(h, requestId)).filter((event) => event === 'deletion.cancelled')).toHaveLength(1)
    expect(await deletionStateOf(h.db, person.id)).toBeUndefined()
  })

  it('when the cancel succeeds, then its answer is as before and the trail reads accepted, completed, cancelled', async () => {
    const { person, requestId } = await softDeleted()

    const answer = await envelopeOf(await api.cancel(person.id, api.asUser(person.id)))

    expect(answer).toMatchObject({ status: 200, id: 'api.user.delete.cancel', responseCode: 'OK', result: { response: 'SUCCESS' }, params: { err: null, status: 'SUCCESS' } })
    expect(await auditEventsOf(h, requestId)).toEqual(['deletion.accepted', 'deletion.completed', 'deletion.cancelled'])
  })
})
