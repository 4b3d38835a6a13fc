import { type PartitionMetadata, Partitioners } from 'kafkajs'

/** The partition of the topic an event goes to, by its message key (the user id; null for none). */
export type PartitionOf = (key: string | null) => number

/**
 * Where kafkajs's producer would put each event on a topic of these partitions: its own default
 * partitioner (Java's murmur2 of the key modulo the partition count; round-robin over the partitions
 * that have a leader for an event without a key), so the relay can cut its sends one partition
 * each. The messages do not name it: kafkajs places them by the same rule over its own metadata.
 */
export function partitionerFor(topic: string, partitions: readonly PartitionMetadata[]): PartitionOf {
  if (partitions.length === 0) throw new Error(`no partitions known for topic ${topic}`)
  const partitioner = Partitioners.DefaultPartitioner()
  const partitionMetadata = [...partitions]
  return (key) => partitioner({ topic, partitionMetadata, message: { key, value: null } })
}

/** The entries by the partition each goes to, each partition's in their order, the partitions in the order first met. */
export function byPartition<T>(entries: readonly T[], partitionOf: (entry: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>()
  for (const entry of entries) {
    const partition = partitionOf(entry)
    const group = groups.get(partition)
    if (group) group.push(entry)
    else groups.set(partition, [entry])
  }
  return groups
}
