import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { type Admin, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll } from 'vitest'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraEventOutbox } from '../../src/store/cassandra-event-outbox.js'
import { migrate } from '../../src/store/migrations.js'
import { testConfig } from './harness.js'
import { KAFKA_BROKERS } from './kafka.js'

export interface RelayOutboxWorld {
  readonly topic: string
  readonly keyspace: string
  readonly kafka: Kafka
  readonly admin: Admin
  /** Set before the file's tests run. */
  db: Client
  /** The real outbox over `keyspace`; set before the file's tests run. */
  outbox: CassandraEventOutbox
}

/**
 * A keyspace and a topic of a test file's own on the real Cassandra and Kafka, for tests of the relay
 * whose outbox listing must hold their entries only (in Cassandra's token order) and whose topic they
 * may delete and make again: migrated and made before the file's tests, dropped after them.
 */
export function relayOutboxWorld(name: string, numPartitions: number): RelayOutboxWorld {
  const kafka = new Kafka({ clientId: `test-relay-${name}`, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const world = {
    topic: `relay-${name}-${randomUUID()}`,
    keyspace: `${name}_${randomUUID().replace(/-/g, '').slice(0, 16)}`,
    kafka,
    admin: kafka.admin(),
  } as RelayOutboxWorld
  const config = testConfig({ cassandra: { keyspace: world.keyspace } }).cassandra

  beforeAll(async () => {
    await migrate(config)
    world.db = createCassandraClient(config)
    await world.db.connect()
    world.outbox = new CassandraEventOutbox(world.db, world.keyspace)
    await world.admin.connect()
    await world.admin.createTopics({ waitForLeaders: true, topics: [{ topic: world.topic, numPartitions, replicationFactor: 1 }] })
  }, 180_000)
  afterAll(async () => {
    await world.admin.deleteTopics({ topics: [world.topic] }).catch(() => undefined)
    await world.admin.disconnect()
    await world.db?.execute(`DROP KEYSPACE IF EXISTS ${world.keyspace}`, [], { readTimeout: 120_000 })
    await world.db?.shutdown()
  })
  return world
}
