import { type ContractServer, startContractServer } from '../../support/contract-server.js'
import type { RealmKeys } from '../../support/user-tokens.js'
import { clusterEnv } from './cluster-env.js'

/**
 * N instances of the built service (node dist/src/main.js, built once by the global setup), each
 * its own process on its own port, all on the same Cassandra cluster and Kafka brokers: what a
 * deployment runs behind its load balancer. They trust `keys`, so the test mints user tokens with
 * the same realm keys its harness uses.
 */
export async function startInstances(ports: number[], options: { keys: RealmKeys; env?: Record<string, string> }): Promise<ContractServer[]> {
  const env = { ...clusterEnv(), NODE_ENV: 'test', ...options.env }
  const started: ContractServer[] = []
  try {
    for (const port of ports) started.push(await startContractServer({ env, keys: options.keys, port }))
    return started
  } catch (err) {
    await stopInstances(started)
    throw err
  }
}

export async function stopInstances(instances: ContractServer[]): Promise<void> {
  await Promise.all(instances.map((instance) => instance.stop()))
}
