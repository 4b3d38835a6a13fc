import type { DescribeConfigResponse } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { judgeTopicDurability, minInsyncReplicasOf, replicationFactorOf } from './topic-durability.js'

const judge = (replicationFactor: number, minInsyncReplicas: number, brokers: number) => judgeTopicDurability({ replicationFactor, minInsyncReplicas, brokers })

describe('judgeTopicDurability', () => {
  it('when the topic has 3 replicas and min.insync.replicas 2 (or 3 of 5), then it is durable', () => {
    expect(judge(3, 2, 3)).toEqual({ verdict: 'durable' })
    expect(judge(3, 2, 6)).toEqual({ verdict: 'durable' })
    expect(judge(5, 3, 5)).toEqual({ verdict: 'durable' })
    expect(judge(5, 2, 5)).toEqual({ verdict: 'durable' })
  })

  it('when the topic has one replica on a single broker, then it is the local setup, whatever its min.insync.replicas', () => {
    expect(judge(1, 1, 1)).toEqual({ verdict: 'local' })
    expect(judge(1, 2, 1)).toEqual({ verdict: 'local' })
  })

  it('when the topic has one replica on a cluster of several brokers, then it can lose an acknowledged event: raise its replication factor', () => {
    for (const brokers of [2, 3, 9]) {
      expect(judge(1, 1, brokers)).toEqual({ verdict: 'can-lose-events', why: 'one replica', fix: expect.stringContaining('replication factor to 3') })
      expect(judge(1, 2, brokers)).toMatchObject({ verdict: 'can-lose-events', why: 'one replica' })
    }
  })

  it('when the topic has several replicas and min.insync.replicas 1, then it can lose an acknowledged event: set min.insync.replicas to 2', () => {
    expect(judge(3, 1, 3)).toEqual({ verdict: 'can-lose-events', why: 'one in-sync replica', fix: expect.stringContaining('min.insync.replicas=2') })
    expect(judge(3, 1, 3)).not.toMatchObject({ fix: expect.stringContaining('replication factor') })
    // Two replicas cannot be both safe and writable with one broker down: a third is the fix.
    expect(judge(2, 1, 3)).toEqual({ verdict: 'can-lose-events', why: 'one in-sync replica', fix: expect.stringContaining('replication factor to 3') })
  })

  it('when min.insync.replicas is not below the replication factor, then the topic stops taking events with one broker down: lower it, or add a replica', () => {
    expect(judge(3, 3, 3)).toEqual({ verdict: 'stops-with-one-broker-down', fix: expect.stringContaining('min.insync.replicas=2') })
    expect(judge(3, 4, 5)).toMatchObject({ verdict: 'stops-with-one-broker-down', fix: expect.stringContaining('min.insync.replicas=2') })
    expect(judge(5, 5, 5)).toMatchObject({ verdict: 'stops-with-one-broker-down', fix: expect.stringContaining('min.insync.replicas=4') })
    expect(judge(2, 2, 2)).toEqual({ verdict: 'stops-with-one-broker-down', fix: expect.stringContaining('replication factor to 3') })
  })
})

describe("the topic's replication read from Kafka's answers", () => {
  const replicas = (...counts: number[]) => counts.map((count) => ({ replicas: Array.from({ length: count }, (_, i) => i) }))
  const described = (configValue: string | undefined): Pick<DescribeConfigResponse, 'resources'> => ({
    resources: [
      {
        errorCode: 0,
        errorMessage: '',
        resourceName: 't',
        resourceType: 2,
        configEntries:
          configValue === undefined ? [] : [{ configName: 'min.insync.replicas', configValue, isDefault: false, configSource: 4, isSensitive: false, readOnly: false, configSynonyms: [] }],
      },
    ],
  })

  it('when partitions have different replica counts, then the replication factor is the fewest', () => {
    expect(replicationFactorOf(replicas(3))).toBe(3)
    expect(replicationFactorOf(replicas(3, 1, 3))).toBe(1)
    expect(() => replicationFactorOf([])).toThrow()
  })

  it('when describeConfigs gives min.insync.replicas, then it is read; when it gives none or no count, then reading it fails', () => {
    expect(minInsyncReplicasOf(described('2'))).toBe(2)
    expect(minInsyncReplicasOf(described(' 1 '))).toBe(1)
    for (const bad of [undefined, '', '0', 'x', '1.5']) expect(() => minInsyncReplicasOf(described(bad))).toThrow(/min.insync.replicas/)
    expect(() => minInsyncReplicasOf({ resources: [] })).toThrow(/min.insync.replicas/)
  })
})
