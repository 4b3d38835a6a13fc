import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { testConfig } from '../support/harness.js'

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
})
