import { describe, expect, it, vi } from 'vitest'
import { getConfig, portClashes, up } from '../../scripts/services.mjs'
// @ts-expect-error plain JS module without its own declaration file
import { cassandra, initialToken } from '../../scripts/services/cassandra.mjs'
// @ts-expect-error plain JS module without its own declaration file
import { kafka, topicReplication } from '../../scripts/services/kafka.mjs'

interface Member {
  index: number
  host: string
  dir: string
  topology: string
}
const env = { SERVICES_RUN_DIR: '/tmp/run', SERVICES_DIR: '/tmp/services' }

describe('local cluster layout (scripts/services)', () => {
  it('when CASSANDRA_NODES is unset, then one node on 127.0.0.1 in <run>/cassandra', () => {
    const members = cassandra.members(getConfig(env)) as Member[]

    expect(members.map((m) => [m.host, m.dir, m.topology])).toEqual([['127.0.0.1', '/tmp/run/cassandra', 'single']])
  })

  it('when CASSANDRA_NODES=3, then nodes on 127.0.0.1-3 with their own folders apart from the single node', () => {
    const members = cassandra.members(getConfig({ ...env, CASSANDRA_NODES: '3' })) as Member[]

    expect(members.map((m) => [m.index, m.host, m.dir])).toEqual([
      [1, '127.0.0.1', '/tmp/run/cassandra-cluster/node1'],
      [2, '127.0.0.2', '/tmp/run/cassandra-cluster/node2'],
      [3, '127.0.0.3', '/tmp/run/cassandra-cluster/node3'],
    ])
  })

  it('when a node count is not a small whole number, then the config refuses it', () => {
    expect(() => getConfig({ ...env, CASSANDRA_NODES: 'three' })).toThrow(/CASSANDRA_NODES/)
    expect(() => getConfig({ ...env, KAFKA_BROKERS: '0' })).toThrow(/KAFKA_BROKERS/)
  })

  it('when ENV_NAME names the deployment, then the local Kafka creates the topic the service publishes to', async () => {
    const { loadConfig } = await import('../../src/config/load-config.js')
    // The service's topic as its configuration loads it from the environment (ENV_NAME through config/).
    const saved = { envName: process.env.ENV_NAME, topic: process.env['user-deletion-broadcast-topic'] }
    process.env.ENV_NAME = 'staging'
    delete process.env['user-deletion-broadcast-topic']
    let serviceTopic: string
    try {
      serviceTopic = loadConfig().events.topic
    } finally {
      if (saved.envName === undefined) delete process.env.ENV_NAME
      else process.env.ENV_NAME = saved.envName
      if (saved.topic !== undefined) process.env['user-deletion-broadcast-topic'] = saved.topic
    }

    expect(serviceTopic).toBe('staging.delete.user')
    expect(getConfig({ ...env, ENV_NAME: 'staging' }).kafka.topic).toBe(serviceTopic)
    expect(getConfig(env).kafka.topic).toBe('local.delete.user')
    expect(getConfig({ ...env, ENV_NAME: 'staging', 'user-deletion-broadcast-topic': 'own.topic' }).kafka.topic).toBe('own.topic')
  })

  it('when tokens are spread over 3 nodes, then they split the Murmur3 ring in equal thirds', () => {
    const tokens = [1, 2, 3].map((i) => BigInt(initialToken(i, 3)))

    expect(tokens[0]).toBe(-(2n ** 63n))
    expect(tokens[1]! - tokens[0]!).toBe(tokens[2]! - tokens[1]!)
    expect(2n ** 63n - 1n - tokens[2]!).toBeLessThanOrEqual(2n ** 64n / 3n)
  })

  it('when KAFKA_BROKERS=3, then the topic gets RF 3 and min.insync.replicas 2; one broker keeps RF 1', () => {
    expect(topicReplication(3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 })
    expect(topicReplication(1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 })
    expect((kafka.members(getConfig({ ...env, KAFKA_BROKERS: '3' })) as Member[]).map((m) => m.dir)).toEqual([
      '/tmp/run/kafka-cluster/broker1',
      '/tmp/run/kafka-cluster/broker2',
      '/tmp/run/kafka-cluster/broker3',
    ])
  })

  it('when the cluster layout is selected, then the single node is among the members a switch stops first', () => {
    const all = cassandra.allMembers(getConfig({ ...env, CASSANDRA_NODES: '3' })) as Member[]

    expect(all.map((m) => m.dir)).toContain('/tmp/run/cassandra')
    expect(all).toHaveLength(4)
  })
})

describe('the ports of a local layout (scripts/services)', () => {
  it('when CASSANDRA_NODES=3, then node i takes CASSANDRA_JMX_PORT + 10000·(i−1) on 127.0.0.1', () => {
    const cfg = getConfig({ ...env, CASSANDRA_NODES: '3', CASSANDRA_JMX_PORT: '7399' })
    const jmx = (cassandra.members(cfg) as Member[]).map((m) => (cassandra.ports(cfg, m) as { host: string; port: number }[]).at(-1))

    expect(jmx).toEqual([
      { host: '127.0.0.1', port: 7399 },
      { host: '127.0.0.1', port: 17399 },
      { host: '127.0.0.1', port: 27399 },
    ])
    expect(portClashes(cfg)).toEqual([])
  })

  it('when the defaults are used, single node or clusters, then no two ports clash', () => {
    expect(portClashes(getConfig(env))).toEqual([])
    expect(portClashes(getConfig({ ...env, CASSANDRA_NODES: '3', KAFKA_BROKERS: '3' }))).toEqual([])
  })

  it("when a cluster node's JMX port falls on another server's port, then the clash names both variables", () => {
    const cfg = getConfig({ ...env, CASSANDRA_NODES: '3', CASSANDRA_JMX_PORT: '9092', KAFKA_PORT: '19092' })

    expect(portClashes(cfg)).toEqual(['port 19092 is both CASSANDRA_JMX_PORT + 10000 (JMX of Cassandra node 2) and KAFKA_PORT'])
  })

  it('when the same JMX port is clear for one node, then it is not refused for the single layout', () => {
    expect(portClashes(getConfig({ ...env, CASSANDRA_JMX_PORT: '9092', KAFKA_PORT: '19092' }))).toEqual([])
  })

  it("when a far node's JMX port would pass 65535, then the clash says so", () => {
    const cfg = getConfig({ ...env, CASSANDRA_NODES: '3', CASSANDRA_JMX_PORT: '50000' })

    expect(portClashes(cfg)).toEqual(['CASSANDRA_JMX_PORT + 20000 (JMX of Cassandra node 3) is 70000, outside 1–65535'])
  })

  it('when two servers are given one port, or the service shares one with a server, then each clash is named', () => {
    const cfg = getConfig({ ...env, OPENSEARCH_PORT: '10400', OPENSEARCH_TRANSPORT_PORT: '10400', PORT: '18080' })

    expect(portClashes(cfg)).toEqual(['port 18080 is both KEYCLOAK_PORT and PORT (the service)', 'port 10400 is both OPENSEARCH_PORT and OPENSEARCH_TRANSPORT_PORT'])
  })

  it('when a layout clashes, then up() refuses before starting anything, naming the variables', async () => {
    for (const [key, value] of Object.entries({ ...env, CASSANDRA_NODES: '3', CASSANDRA_JMX_PORT: '9092', KAFKA_PORT: '19092' })) vi.stubEnv(key, value)
    try {
      await expect(up(['cassandra'])).rejects.toThrow(/port 19092 is both CASSANDRA_JMX_PORT \+ 10000 \(JMX of Cassandra node 2\) and KAFKA_PORT/)
    } finally {
      vi.unstubAllEnvs()
    }
  })
})
