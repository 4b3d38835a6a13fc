import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraUserStore } from '../../src/store/cassandra-user-store.js'
import { testConfig } from '../support/harness.js'
import { waitUntil } from '../support/wait-until.js'

// A hard deletion reduces the user row to a tombstone: every column but the few it keeps goes to
// null, read from the table as it stands. Sunbird may add a column while this service runs (a
// rolling upgrade): the running process must null it too, without a restart. A keyspace of its own,
// so the shared test keyspace's user table never gains the column.

const KEYSPACE = `tomb_${randomUUID().replace(/-/g, '').slice(0, 16)}`

let admin: Client
let serviceClient: Client
beforeAll(async () => {
  admin = createCassandraClient(testConfig().cassandra, { keyspace: false })
  await admin.connect()
  await admin.execute(`CREATE KEYSPACE ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`)
  await admin.execute(`CREATE TABLE ${KEYSPACE}.user (id text PRIMARY KEY, status int, isdeleted boolean, userid text, updatedby text, updateddate text, firstname text)`)
  serviceClient = createCassandraClient(testConfig({ cassandra: { keyspace: KEYSPACE } }).cassandra)
  await serviceClient.connect()
})
afterAll(async () => {
  await serviceClient?.shutdown()
  await admin?.execute(`DROP KEYSPACE IF EXISTS ${KEYSPACE}`)
  await admin?.shutdown()
})

describe('the tombstone of a hard deletion, when Sunbird adds a column to the user table while the service runs', () => {
  it('when a user is hard-deleted after the column was added, then that column is nulled too, by the same process', async () => {
    const users = new CassandraUserStore(serviceClient, KEYSPACE)
    const change = { requestedBy: randomUUID(), at: new Date() }
    const before = randomUUID()
    await admin.execute(`INSERT INTO ${KEYSPACE}.user (id, status, firstname) VALUES (?, 1, 'Asha')`, [before], { prepare: true })
    await users.reduceToTombstone(before, change)

    await admin.execute(`ALTER TABLE ${KEYSPACE}.user ADD recoveryphone text`)
    const after = randomUUID()
    await admin.execute(`INSERT INTO ${KEYSPACE}.user (id, status, firstname, recoveryphone) VALUES (?, 1, 'Ravi', '+91 98450 00000')`, [after], { prepare: true })

    const rowAfter = async () => (await admin.execute(`SELECT firstname, recoveryphone, isdeleted FROM ${KEYSPACE}.user WHERE id = ?`, [after], { prepare: true })).first()
    // The driver hears of the change on its control connection a moment later.
    await waitUntil('the new column nulled by the tombstone', async () => {
      await users.reduceToTombstone(after, change)
      return (await rowAfter())?.get('recoveryphone') === null
    })

    const row = await rowAfter()
    expect({ firstname: row?.get('firstname'), recoveryphone: row?.get('recoveryphone'), isdeleted: row?.get('isdeleted') }).toEqual({ firstname: null, recoveryphone: null, isdeleted: true })
  })
})
