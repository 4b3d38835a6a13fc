import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, ConfigResourceTypes } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SeedUser } from '../../scripts/lib/seed-users.js'
import { expectDeleted } from '../support/assertions.js'
import type { ContractServer } from '../support/contract-server.js'
import { requestsOf } from '../support/deletion-requests.js'
import { startHarness, type Harness } from '../support/harness.js'
import { itemAt } from '../support/item-at.js'
import { readTopic } from '../support/kafka.js'
import { freePort } from '../support/spawned-server.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { personalValues, readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'
import { CLUSTER_BROKERS, CLUSTER_HOSTS } from './support/cluster-env.js'
import { killCassandraNode, startCassandraNode, waitAllCassandraUp, waitCassandraNodeState } from './support/cluster.js'
import { sendSelfDeletion } from './support/deletion-load.js'
import { startInstances, stopInstances } from './support/instances.js'

/** The request is completed and the user row holds none of the seeded personal values, read at QUORUM from the cluster. */
async function expectErased(h: Harness, user: SeedUser, personal: string[]): Promise<void> {
  const [request] = await requestsOf(h.db, user.id)
  expect(request?.state, JSON.stringify(request)).toBe('completed')
  const after = await readUserState(h.db, user.id)
  expect(after.user?.get('status')).toBe(2)
  expect(after.user?.get('isdeleted')).toBe(true)
  expect(after.lookups).toEqual([])
  const rowText = JSON.stringify(after.user)
  for (const value of personal) expect(rowText).not.toContain(value)
}

/** A seeded user and the personal values the seed wrote, to look for after the deletion. */
async function seedPerson(h: Harness): Promise<{ user: SeedUser; personal: string[] }> {
  const user = await h.seed()
  const row = (await readUserState(h.db, user.id)).user!
  const personal = personalValues(user, Object.fromEntries(Object.entries(row)))
  expect(personal.length).toBeGreaterThan(3)
  return { user, personal }
}

async function eventsFor(topic: string, requestId: string): Promise<unknown[]> {
  return (await readTopic(topic, { brokers: CLUSTER_BROKERS })).filter((m) => m.value.includes(requestId)).map((m) => JSON.parse(m.value))
}

describe('the product on a 3-node Cassandra and a 3-broker Kafka', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ events: { timeoutMs: 3000 } })
  })
  afterAll(async () => {
    await h.close()
  })

  it('when the suite starts, then the keyspace is replicated 3 ways in datacenter1 and the topic has RF 3 with min.insync.replicas 2', async () => {
    const keyspace = await h.db.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [TEST_KEYSPACE])
    const peers = await h.db.execute('SELECT peer FROM system.peers')
    const kafka = new Kafka({ clientId: 'cluster-test', brokers: CLUSTER_BROKERS, logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      const [topic] = (await admin.fetchTopicMetadata({ topics: [h.config.events.topic] })).topics
      const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: h.config.events.topic, configNames: ['min.insync.replicas'] }] })

      expect(h.config.cassandra.hosts).toEqual(CLUSTER_HOSTS)
      expect(keyspace.first()?.get('replication')).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '3' })
      expect(peers.rowLength).toBe(2)
      expect(topic?.partitions.map((p) => p.replicas.length)).toEqual([3])
      expect(configs.resources[0]?.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue).toBe('2')
    } finally {
      await admin.disconnect()
    }
  })

  it('when a user is deleted through a service instance, then the deletion completes and its event arrives through the 3 brokers', async () => {
    const { user, personal } = await seedPerson(h)
    const requestId = `cluster-${randomUUID()}`
    let instances: ContractServer[] = []
    try {
      instances = await startInstances([await freePort()], { keys: h.keys, env: { EVENT_RELAY_INTERVAL_MS: '200' } })
      const instance = itemAt(instances, 0)

      const response = await sendSelfDeletion(instance, user.id, requestId)

      await expectDeleted(response)
      await expectErased(h, user, personal)
      const events = await waitUntil(
        `the event of ${requestId} on the cluster's topic`,
        async () => {
          const found = await eventsFor(h.config.events.topic, requestId)
          return found.length > 0 && found
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      )
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({ eid: 'BE_JOB_REQUEST', object: { id: user.id, type: 'user' }, edata: { action: 'delete-user', userId: user.id } })
    } finally {
      await stopInstances(instances)
    }
  })

  describe('when the Cassandra node on 127.0.0.3 is killed (SIGKILL)', () => {
    beforeAll(async () => {
      await killCassandraNode(3)
      await waitCassandraNodeState(3, 'DN')
    })
    afterAll(async () => {
      await startCassandraNode(3)
      await waitAllCassandraUp()
    })

    it('then a deletion still succeeds at QUORUM on the two nodes left, and its event is published', async () => {
      const { user, personal } = await seedPerson(h)
      const requestId = `cluster-down-${randomUUID()}`

      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
      await h.service.publishEvents()

      await expectErased(h, user, personal)
      expect(await eventsFor(h.config.events.topic, requestId)).toHaveLength(1)
    })
  })
})
