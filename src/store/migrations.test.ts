import type { Client, Host } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { whyNotVerified } from '../verification/deletion-verify-command.js'
import { awaitSchemaAgreement, currentSchemaVersion, migrations, sameReplication, schemaCoordinator } from './migrations.js'

describe('migrations: the list db:migrate applies, by version', () => {
  it('when a migration is appended, then the versions run 1, 2, 3… in order, each once (a repeated version is skipped where the first was applied), the last the current one', () => {
    const versions = migrations.map((migration) => migration.version)

    expect(versions).toEqual(versions.map((_, index) => index + 1))
    expect(currentSchemaVersion).toBe(versions.length)
  })
})

describe('sameReplication: the keyspace as stored against the replication asked', () => {
  it('when only the spelling differs (full class name, numbers as strings), then it is the same', () => {
    expect(sameReplication({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '3' }, { class: 'NetworkTopologyStrategy', datacenter1: 3 })).toBe(true)
  })

  it('when the replication factor or the strategy differs, then it is not the same', () => {
    expect(sameReplication({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' }, { class: 'NetworkTopologyStrategy', datacenter1: 3 })).toBe(false)
    expect(sameReplication({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '1' }, { class: 'NetworkTopologyStrategy', datacenter1: 3 })).toBe(false)
  })

  it('when NetworkTopologyStrategy is asked with a bare replication_factor, then it matches the per-datacenter form Cassandra stores', () => {
    const stored = { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '3', dc2: '3' }

    expect(sameReplication(stored, { class: 'NetworkTopologyStrategy', replication_factor: 3 })).toBe(true)
    expect(sameReplication(stored, { class: 'NetworkTopologyStrategy', replication_factor: 2 })).toBe(false)
  })
})

describe('awaitSchemaAgreement: every node holds a schema change before the next statement', () => {
  /** A client whose nodes agree from the `agreeFrom`-th check on (never, with Infinity). */
  const nodesAgreeingFrom = (agreeFrom: number) => {
    let checks = 0
    const client = { metadata: { checkSchemaAgreement: async () => ++checks >= agreeFrom } } as unknown as Client
    return { client, checks: () => checks }
  }

  it('when the nodes agree at once, then it answers after one check', async () => {
    const nodes = nodesAgreeingFrom(1)

    await awaitSchemaAgreement(nodes.client)

    expect(nodes.checks()).toBe(1)
  })

  it('when a node takes a moment to hold the change, then it waits for it', async () => {
    const nodes = nodesAgreeingFrom(2)

    await awaitSchemaAgreement(nodes.client, 5000)

    expect(nodes.checks()).toBe(2)
  })

  it('when the nodes do not agree in time, then Cassandra is unavailable, with the reason in words an operator can act on', async () => {
    const failure = await awaitSchemaAgreement(nodesAgreeingFrom(Number.POSITIVE_INFINITY).client, 0).catch((err: unknown) => err)

    expect(failure).toBeInstanceOf(DependencyUnavailableError)
    expect(whyNotVerified(failure)).toBe('cassandra unavailable: the nodes did not agree on the schema within 0 s (see nodetool describecluster); run db:migrate again once they do')
  })
})

describe('schemaCoordinator: the one node every db:migrate run sends the lock table to', () => {
  const host = (address: string, datacenter: string, up = true) => ({ address, datacenter, isUp: () => up }) as unknown as Host
  const clientSeeing = (...hosts: Host[]) => ({ hosts: { values: () => hosts } }) as unknown as Client

  it('when several nodes of the local datacenter are up, then it is the lowest address among them, whatever order the driver lists them in', () => {
    const hosts = [host('10.0.0.3:9042', 'dc1'), host('10.0.0.1:9042', 'dc1'), host('10.0.0.2:9042', 'dc1')]

    expect(schemaCoordinator(clientSeeing(...hosts), 'dc1')?.address).toBe('10.0.0.1:9042')
    expect(schemaCoordinator(clientSeeing(...hosts.reverse()), 'dc1')?.address).toBe('10.0.0.1:9042')
  })

  it('when the lowest node is down or in another datacenter (the driver does not talk to it), then it is the lowest of the others', () => {
    expect(schemaCoordinator(clientSeeing(host('10.0.0.1:9042', 'dc1', false), host('10.0.0.0:9042', 'dc2'), host('10.0.0.2:9042', 'dc1')), 'dc1')?.address).toBe('10.0.0.2:9042')
  })

  it('when no node of the local datacenter is known up, then none: the driver chooses', () => {
    expect(schemaCoordinator(clientSeeing(host('10.0.0.1:9042', 'dc1', false)), 'dc1')).toBeUndefined()
  })
})
