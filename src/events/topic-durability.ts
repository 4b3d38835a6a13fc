import type { DescribeConfigResponse, PartitionMetadata } from 'kafkajs'

/** What the relay reads of the event topic at connect to judge whether an event Kafka acknowledged (acks=all) is safe. */
export interface TopicReplication {
  /** Replicas of the topic's partition that has fewest (its replication factor). */
  replicationFactor: number
  /** The topic's effective `min.insync.replicas`: its own, else the broker's default. */
  minInsyncReplicas: number
  /** Brokers the cluster's metadata lists (those up). */
  brokers: number
}

/**
 * What the topic's replication does to an event Kafka acknowledged with acks=all (every in-sync
 * replica has it):
 * - `durable`: on at least two brokers, and writes go on with one broker down;
 * - `local`: one replica on a cluster of one broker, the local setup: nothing to fall back on, by design;
 * - `can-lose-events`: an acknowledged event may sit on one broker only (`why`): the topic has one
 *   replica on a cluster of several, or `min.insync.replicas` 1 lets the leader acknowledge alone
 *   once the others fell out of sync; losing that broker's disk loses the event;
 * - `stops-with-one-broker-down`: `min.insync.replicas` is not below the replication factor, so a
 *   write needs every replica and one broker down refuses every event of its partitions.
 * `fix`: what to change on the topic, for the operator.
 */
export type TopicDurability =
  | { verdict: 'durable' | 'local' }
  | { verdict: 'can-lose-events'; why: 'one replica' | 'one in-sync replica'; fix: string }
  | { verdict: 'stops-with-one-broker-down'; fix: string }

const RAISE_REPLICATION = 'raise its replication factor to 3 (kafka-reassign-partitions) and set min.insync.replicas=2 on it'

/** The verdict on a topic of this replication factor and min.insync.replicas on a cluster of this many brokers. */
export function judgeTopicDurability({ replicationFactor, minInsyncReplicas, brokers }: TopicReplication): TopicDurability {
  if (replicationFactor <= 1) {
    // min.insync.replicas above 1 changes nothing here: Kafka (4.3.1, as the integration test shows)
    // takes a write acknowledged by every replica there is.
    if (brokers <= 1) return { verdict: 'local' }
    return { verdict: 'can-lose-events', why: 'one replica', fix: RAISE_REPLICATION }
  }
  if (minInsyncReplicas < 2) {
    // With two replicas, min.insync.replicas 2 would stop writes with one broker down: a third replica is what allows both.
    const fix = replicationFactor === 2 ? RAISE_REPLICATION : 'set min.insync.replicas=2 on it (kafka-configs --alter --add-config min.insync.replicas=2)'
    return { verdict: 'can-lose-events', why: 'one in-sync replica', fix }
  }
  if (minInsyncReplicas >= replicationFactor) {
    const fix = replicationFactor === 2 ? RAISE_REPLICATION : `set min.insync.replicas=${replicationFactor - 1} on it (kafka-configs --alter --add-config min.insync.replicas=${replicationFactor - 1})`
    return { verdict: 'stops-with-one-broker-down', fix }
  }
  return { verdict: 'durable' }
}

/** The topic's replication factor from its partitions' metadata: the fewest replicas of any partition (a reassignment may leave them uneven). */
export function replicationFactorOf(partitions: readonly Pick<PartitionMetadata, 'replicas'>[]): number {
  if (partitions.length === 0) throw new Error('no partitions to read the replication factor of')
  return Math.min(...partitions.map((partition) => partition.replicas.length))
}

/** The topic's effective min.insync.replicas from kafkajs's describeConfigs answer on it (the broker's default when the topic sets none); throws when it holds none. */
export function minInsyncReplicasOf(described: Pick<DescribeConfigResponse, 'resources'>): number {
  const value = described.resources[0]?.configEntries.find((entry) => entry.configName === 'min.insync.replicas')?.configValue?.trim()
  const count = Number(value || Number.NaN)
  if (!Number.isInteger(count) || count < 1) throw new Error(`no min.insync.replicas in the topic's configuration (${value === undefined ? 'absent' : `"${value}"`})`)
  return count
}
