import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { ensureKeyspace } from '../../src/store/migrations.js'
import { testConfig } from '../support/harness.js'

describe('db:migrate and the keyspace replication (CASSANDRA_REPLICATION)', () => {
  const keyspace = `repl_${randomUUID().replace(/-/g, '').slice(0, 16)}`
  let admin: Client
  beforeAll(async () => {
    admin = createCassandraClient(testConfig().cassandra, { keyspace: false })
    await admin.connect()
  })
  afterAll(async () => {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`)
    await admin.shutdown()
  })

  const replicationOf = async () => (await admin.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace])).rows[0]?.get('replication') as Record<string, string>

  it('when the keyspace is new and no replication is configured, then it is created with the default (SimpleStrategy, one replica) and nothing is said', async () => {
    const said: string[] = []

    await ensureKeyspace(admin, keyspace, undefined, (line) => said.push(line))

    expect(await replicationOf()).toEqual({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' })
    expect(said).toEqual([])
  })

  it('when the same replication is asked again (spelled differently), then nothing changes and nothing is said', async () => {
    const said: string[] = []

    await ensureKeyspace(admin, keyspace, { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, (line) => said.push(line))

    expect(said).toEqual([])
  })

  it('when an existing keyspace is asked for another replication, then it is altered and the log says a repair is due', async () => {
    const said: string[] = []

    await ensureKeyspace(admin, keyspace, { class: 'NetworkTopologyStrategy', datacenter1: 1 }, (line) => said.push(line))

    expect(await replicationOf()).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '1' })
    expect(said).toHaveLength(1)
    expect(said[0]).toContain(`replication of keyspace ${keyspace} changed`)
    expect(said[0]).toContain(`a repair is due`)
    expect(said[0]).toContain(`nodetool repair -full ${keyspace}`)
  })

  it("when an existing keyspace's replication differs but none is configured, then it is left as it is and nothing is said (Sunbird's keyspace is never taken to the default)", async () => {
    const said: string[] = []

    await ensureKeyspace(admin, keyspace, undefined, (line) => said.push(line))

    expect(await replicationOf()).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '1' })
    expect(said).toEqual([])
  })

  it('when the configured name has capitals (stored in lower case, as CQL folds unquoted names), then the existing keyspace is found and altered, not created again', async () => {
    const said: string[] = []

    await ensureKeyspace(admin, keyspace.toUpperCase(), { class: 'SimpleStrategy', replication_factor: 1 }, (line) => said.push(line))

    expect(await replicationOf()).toEqual({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' })
    expect(said).toHaveLength(1)
  })
})
