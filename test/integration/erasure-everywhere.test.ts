import type { Client as SearchClient } from '@opensearch-project/opensearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSearchClient } from '../../src/search/search-client.js'
import { USER_ALIAS } from '../../src/search/sunbird-indexes.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { envelopeOf, lifecycle } from '../support/lifecycle.js'
import { findValues, newPerson, personalValues, seedEverywhere } from '../support/personal-data.js'
import { freePort } from '../support/spawned-server.js'
import { LOCAL_SEARCH, TEST_KEYSPACE } from '../support/test-env.js'

const ORG = '0137000000000000000012'

type ReceiptEntry = { store: string; action: string; count?: number; physicallyErasedBy?: string; physicalErasure?: string }
const entriesOf = (receipt: Record<string, unknown> | null | undefined) => (receipt?.stores ?? []) as ReceiptEntry[]
const actionsOf = (receipt: Record<string, unknown> | null | undefined) =>
  Object.fromEntries(entriesOf(receipt).map((entry) => [entry.store, `${entry.action}${entry.count === undefined ? '' : ` ${entry.count}`}`]))

/**
 * A realistic person in every store a Sunbird deployment keeps them in (the five tables, the side
 * and legacy tables, the codes keyed by plain email and phone, Sunbird's search index with its
 * mapping, the Redis user cache), deleted in each mode over HTTP; then every personal value is
 * searched for in OpenSearch, every table of the keyspace is scanned, and so is the Redis keyspace.
 */
describe('a person erased from every store, on the real Cassandra, OpenSearch and Redis', () => {
  let h: Harness
  let api: ReturnType<typeof lifecycle>
  let search: SearchClient
  beforeAll(async () => {
    h = await startHarness()
    api = lifecycle(h)
    search = createSearchClient({ ...LOCAL_SEARCH, timeoutMs: 10_000 })
  })
  afterAll(async () => {
    await Promise.all([h.close(), search.close()])
  })

  it('when Sunbird’s deletion (no mode) runs, then no personal value is left anywhere, the search document is a tombstone of ids and flags, consent rows stay, and the receipt names every store', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    expect(await findValues(h.db, search, personalValues(p))).toEqual(
      expect.arrayContaining([
        'user',
        'user_lookup',
        'user_declarations',
        'user_notes',
        'otp',
        'rate_limit',
        'shadow_user',
        'user_feed',
        'user_cert',
        'address',
        `search:${USER_ALIAS}`,
        'search:usernotes',
        `redis:user:${p.id}`,
      ]),
    )

    await expectDeleted(await api.remove(p.id, {}, api.asUser(p.id)))

    expect(await findValues(h.db, search, personalValues(p))).toEqual([])
    const { body } = await search.get({ index: USER_ALIAS, id: p.id })
    expect(body._source).toEqual({ id: p.id, userId: p.id, identifier: p.id, status: 2, isDeleted: true, isBlocked: true, rootOrgId: ORG, organisations: [{ organisationId: ORG }] })
    expect((await h.db.execute(`SELECT status FROM ${TEST_KEYSPACE}.user_consent WHERE user_id = ?`, [p.id], { prepare: true })).rowLength).toBe(1)
    expect((await h.db.execute(`SELECT name, email, phone FROM ${TEST_KEYSPACE}.shadow_user WHERE userid = ?`, [p.id], { prepare: true })).first()?.get('name')).toBeNull()
    const [request] = await requestsOf(h.db, p.id)
    expect(request?.state).toBe('completed')
    expect(actionsOf(request?.receipt)).toMatchObject({
      'search.user_alias': 'tombstoned 1',
      'search.usernotes': 'deleted 1',
      'redis.user': 'deleted 1',
      'cassandra.user_declarations': 'deleted 1',
      'cassandra.user_consent': 'kept',
      'cassandra.user_notes': 'deleted 1',
      'cassandra.otp': 'deleted 2',
      'cassandra.rate_limit': 'deleted 2',
      'cassandra.shadow_user': 'blanked 1',
      'cassandra.user_feed': 'deleted 1',
      'cassandra.user_cert': 'deleted 1',
      'cassandra.address': 'deleted 1',
      'downstream.ml': 'left to ml via the delete-user event',
      'downstream.knowlg': 'left to knowlg via the delete-user event',
      'cassandra.bulk_upload_process': 'not reachable by user id',
    })
  })

  it('when a hard deletion runs, then no personal value is left anywhere and the search document and consent rows are gone', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)

    await expectDeleted(await api.remove(p.id, { mode: 'hard' }, api.asUser(p.id)))

    expect(await findValues(h.db, search, personalValues(p))).toEqual([])
    expect((await search.exists({ index: USER_ALIAS, id: p.id })).body).toBe(false)
    expect((await h.db.execute(`SELECT status FROM ${TEST_KEYSPACE}.user_consent WHERE user_id = ?`, [p.id], { prepare: true })).rowLength).toBe(0)
    const [request] = await requestsOf(h.db, p.id)
    expect(actionsOf(request?.receipt)).toMatchObject({ 'search.user_alias': 'deleted 1', 'cassandra.user_consent': 'deleted 1', 'cassandra.shadow_user': 'deleted 1' })
  })

  it('when a soft deletion runs, then only the cache and the short-lived codes go, the search document is flagged; on cancel its flags come back and what soft kept is all there', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    const kept = ['address', 'shadow_user', 'user', 'user_cert', 'user_declarations', 'user_feed', 'user_lookup', 'user_notes', `search:${USER_ALIAS}`, 'search:usernotes'].sort()

    await expectDeleted(await api.remove(p.id, { mode: 'soft' }, api.asUser(p.id)))

    expect(await findValues(h.db, search, personalValues(p))).toEqual(kept)
    expect((await search.get({ index: USER_ALIAS, id: p.id })).body._source).toMatchObject({ status: 2, isDeleted: true, isBlocked: true, firstName: p.firstName })
    const [request] = await requestsOf(h.db, p.id)
    expect(request?.state).toBe('completed')

    expect((await envelopeOf(await api.cancel(p.id, api.asUser(p.id)))).status).toBe(200)

    const restored = (await search.get({ index: USER_ALIAS, id: p.id })).body._source as Record<string, unknown>
    expect(restored).toMatchObject({ status: 1, isDeleted: false, firstName: p.firstName, userName: p.username, dob: p.dob })
    expect(restored.isBlocked ?? null).toBeNull()
    expect(await findValues(h.db, search, personalValues(p))).toEqual(kept)
  })

  it('when the search engine is down, then the request is partial with the search steps pending, and a later sweep with it back erases the document', async () => {
    const p = newPerson()
    await seedEverywhere(h, search, p, ORG)
    const down = await startHarness({ search: { hosts: ['127.0.0.1'], port: await freePort(), timeoutMs: 500 }, deletion: { leaseMs: 1000 } })
    try {
      await expectDeleted(await lifecycle(down).remove(p.id, {}, lifecycle(down).asUser(p.id)))
    } finally {
      await down.close()
    }
    const [partial] = await requestsOf(h.db, p.id)
    expect(partial?.state).toBe('partial')
    expect(partial?.steps.searchUser).toMatchObject({ status: 'pending', action: 'unreachable' })
    expect(partial?.steps.searchNotes).toMatchObject({ status: 'pending' })
    expect(entriesOf(partial?.receipt).find((entry) => entry.store === 'search.user_alias')?.action).toBe('pending')

    await new Promise((resolve) => setTimeout(resolve, 1100))
    const back = await startHarness({ deletion: { leaseMs: 1000 } })
    try {
      await back.service.resumeOpen()
    } finally {
      await back.close()
    }

    const [done] = await requestsOf(h.db, p.id)
    expect(done?.state).toBe('completed')
    expect(await findValues(h.db, search, personalValues(p))).toEqual([])
  })
})
