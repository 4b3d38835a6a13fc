import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acceptedRequest } from '../../src/deletion/deletion-request.js'
import { CREATE_SETTLED_WITHIN_MS } from '../../src/deletion/ports.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { auditEventsOf, requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness, testConfig } from '../support/harness.js'

/** The tables the sweeper, the event relay and the batch runner scan whole. */
const WORK_LISTS = ['user_deletion_request_open', 'user_deletion_event_outbox_pending', 'user_deletion_batch_open']

describe('db:migrate and the work-list tables the sweeper, the relay and the batch runner scan', () => {
  const { keyspace } = testConfig().cassandra
  let admin: Client
  beforeAll(async () => {
    admin = createCassandraClient(testConfig().cassandra, { keyspace: false })
    await admin.connect()
  })
  afterAll(async () => {
    await admin.shutdown()
  })

  it('when the schema is migrated, then each work list keeps its tombstones 3 hours, not 10 days, and compacts an sstable of old tombstones on its own', async () => {
    const rows = (
      await admin.execute('SELECT table_name, gc_grace_seconds, compaction FROM system_schema.tables WHERE keyspace_name = ? AND table_name IN ?', [keyspace, [...WORK_LISTS]], {
        prepare: true,
      })
    ).rows

    expect(rows.map((row) => row.get('table_name')).sort()).toEqual([...WORK_LISTS].sort())
    for (const row of rows) {
      expect(row.get('gc_grace_seconds')).toBe(10_800)
      expect(row.get('compaction')).toMatchObject({
        class: 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy',
        unchecked_tombstone_compaction: 'true',
        tombstone_compaction_interval: '3600',
      })
    }
  })

  describe('the sweeper and entries that outlive their request', () => {
    let h: Harness
    beforeAll(async () => {
      h = await startHarness()
    })
    afterAll(async () => {
      await h.close()
    })

    const isListed = async (id: string) => (await h.db.execute(`SELECT id FROM ${keyspace}.user_deletion_request_open WHERE id = ?`, [id], { prepare: true })).rowLength > 0

    it("when a finished request's entry is back (a replica down past gc_grace_seconds) and another names a request never created, then one sweep unlists both and the request reads back as it was", async () => {
      const user = await h.seed()
      const response = await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }) })
      expect(response.status).toBe(200)
      const [finished] = await requestsOf(h.db, user.id)
      expect(finished?.state).toBe('completed')
      const neverCreated = `never-created-${randomUUID()}`
      const listedLongAgo = new Date(Date.now() - 2 * CREATE_SETTLED_WITHIN_MS - 60_000)
      const list = `INSERT INTO ${keyspace}.user_deletion_request_open (id, userid, createdat) VALUES (?, ?, ?)`
      await h.db.execute(list, [finished!.id, user.id, listedLongAgo], { prepare: true })
      await h.db.execute(list, [neverCreated, randomUUID(), listedLongAgo], { prepare: true })

      await h.service.resumeOpen()

      expect(await isListed(finished!.id)).toBe(false)
      expect(await isListed(neverCreated)).toBe(false)
      expect(await requestsOf(h.db, user.id)).toEqual([finished])
    })

    it('when a deletion whose caller was answered accepted never got its request row (its create never applied), then the sweeper creates the request from its entry and carries it out: the user deleted, acceptance and completion audited, the entry unlisted', async () => {
      const user = await h.seed()
      const createdLongAgo = new Date(Date.now() - 2 * CREATE_SETTLED_WITHIN_MS - 60_000)
      const request = acceptedRequest({
        id: randomUUID(),
        userId: user.id,
        requestedBy: user.id,
        plan: 'sunbird',
        target: { rootOrgId: null, managedBy: null, organisationIds: [] },
        now: createdLongAgo,
      })
      expect(await new CassandraDeletionRequests(h.db, keyspace).create(request, new Date(0), 'service')).toBe(true)
      await h.db.execute(`DELETE FROM ${keyspace}.user_deletion_request WHERE id = ?`, [request.id], { prepare: true })

      await h.service.resumeOpen()

      expect(await requestsOf(h.db, user.id)).toEqual([expect.objectContaining({ id: request.id, state: 'completed', requestedBy: user.id })])
      expect(await auditEventsOf(h, request.id)).toEqual(['deletion.accepted', 'deletion.completed'])
      const row = (await h.db.execute(`SELECT status, isdeleted FROM ${keyspace}.user WHERE id = ?`, [user.id], { prepare: true })).first()
      expect({ status: row?.get('status'), isDeleted: row?.get('isdeleted') }).toEqual({ status: 2, isDeleted: true })
      expect(await isListed(request.id)).toBe(false)
    })
  })
})
