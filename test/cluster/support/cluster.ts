import { cassandraRing, startNode, stopNode, waitForCluster } from '../../../scripts/services.mjs'
import { CLUSTER_HOSTS, CLUSTER_SIZE } from './cluster-env.js'

/**
 * Failure helpers for the cluster suite. Node and broker numbers are 1-based: member i listens on
 * 127.0.0.i. Killing is SIGKILL (no drain, no controlled shutdown), as a crashed machine.
 */
const sizes = { cassandraNodes: CLUSTER_SIZE, kafkaBrokers: CLUSTER_SIZE }
const quiet = { log: () => {} }

export const hostOf = (index: number): string => {
  const host = CLUSTER_HOSTS[index - 1]
  if (!host) throw new Error(`no member ${index} in a cluster of ${CLUSTER_SIZE}`)
  return host
}

export const killCassandraNode = (index: number) => stopNode('cassandra', index, { ...sizes, signal: 'SIGKILL' })
export const stopCassandraNode = (index: number) => stopNode('cassandra', index, sizes)
export const startCassandraNode = (index: number) => startNode('cassandra', index, { ...sizes, ...quiet })
export const killKafkaBroker = (index: number) => stopNode('kafka', index, { ...sizes, signal: 'SIGKILL' })
export const startKafkaBroker = (index: number) => startNode('kafka', index, { ...sizes, ...quiet })

/** Waits until every Cassandra node is UN (nodetool status as seen from a live node). */
export const waitAllCassandraUp = (timeoutMs = 300_000) => waitForCluster('cassandra', { ...sizes, timeoutMs, ...quiet })
/** Waits until every broker is registered and the delete-user topic's replicas are all in sync. */
export const waitAllKafkaUp = (timeoutMs = 300_000) => waitForCluster('kafka', { ...sizes, timeoutMs, ...quiet })

/** Waits until node `observer` sees node `index` in `state` ('UN', 'DN', …). */
export async function waitCassandraNodeState(index: number, state: string, observer = index === 1 ? 2 : 1, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: { state: string; address: string }[] = []
  while (Date.now() < deadline) {
    last = await cassandraRing(observer, sizes).catch(() => [])
    if (last.find((n) => n.address === hostOf(index))?.state === state) return
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  throw new Error(`node ${index} is not ${state} as seen from node ${observer}: ${JSON.stringify(last)}`)
}
