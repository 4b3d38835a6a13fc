import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraUserStore } from '../../src/store/cassandra-user-store.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

// Finding an organisation's ORG_ADMINs reads every ORG_ADMIN row of the deployment (one value of
// the role index). The event needs them for every deletion of a member; a batch deleting an
// organisation's users must not pay that read per user.
let db: Client
/** The admins seeded here: their ORG_ADMIN rows are removed afterwards, so the index value other tests read does not keep growing. */
const seeded: string[] = []
const seedAdmin = async (id: string, org: string) => {
  seeded.push(id)
  await seedUser(db, TEST_KEYSPACE, { id, roles: [{ role: 'ORG_ADMIN', organisationIds: [org] }] })
}
beforeAll(async () => {
  db = createCassandraClient(testConfig().cassandra)
  await db.connect()
})
afterAll(async () => {
  for (const id of seeded) await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_roles WHERE userid = ?`, [id], { prepare: true })
  await db?.shutdown()
})

const roleReads = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.filter(([cql]) => String(cql).includes('user_roles WHERE role')).length

describe('CassandraUserStore.findOrgAdminIds on the real Cassandra', () => {
  it('when the same organisation\u2019s admins are asked for again, at once and later, then the role index is read once', async () => {
    const store = new CassandraUserStore(db, TEST_KEYSPACE)
    const org = `org-${randomUUID()}`
    const admin = randomUUID()
    await seedAdmin(admin, org)
    const execute = vi.spyOn(db, 'execute')
    try {
      const [first, second] = await Promise.all([store.findOrgAdminIds(org, 250), store.findOrgAdminIds(org, 250)])
      const third = await store.findOrgAdminIds(org, 250)

      expect([first, second, third]).toEqual([[admin], [admin], [admin]])
      expect(roleReads(execute)).toBe(1)
    } finally {
      execute.mockRestore()
    }
  })

  it('when another organisation\u2019s admins are asked for, then they are read for it', async () => {
    const store = new CassandraUserStore(db, TEST_KEYSPACE)
    const [org, other] = [`org-${randomUUID()}`, `org-${randomUUID()}`]
    const [admin, otherAdmin] = [randomUUID(), randomUUID()]
    await seedAdmin(admin, org)
    await seedAdmin(otherAdmin, other)

    expect(await store.findOrgAdminIds(org, 250)).toEqual([admin])
    expect(await store.findOrgAdminIds(other, 250)).toEqual([otherAdmin])
  })
})
