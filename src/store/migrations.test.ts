import { describe, expect, it } from 'vitest'
import { sameReplication } from './migrations.js'

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
