import { type ContractServer, startContractServer } from '../../support/contract-server.js'
import type { RealmKeys } from '../../support/user-tokens.js'
import { waitUntil } from '../../support/wait-until.js'
import { clusterEnv } from './cluster-env.js'

/**
 * How long one instance may take to listen, and then to answer /ready with 200. On the shared
 * 2-core machine, with a 3-node Cassandra and 3 brokers beside it, an instance took more than 20 s
 * to start: the budget is generous, and the wait ends as soon as /ready says it is ready.
 */
export const INSTANCE_START_BUDGET_MS = 180_000

/** Polls GET /ready until it answers 200 (Cassandra, the schema and the realm keys checked), within `timeoutMs`. */
export async function waitReady(instance: ContractServer, timeoutMs = INSTANCE_START_BUDGET_MS): Promise<void> {
  let last = 'no answer yet'
  await waitUntil(
    `${instance.url}/ready`,
    async () => {
      try {
        const response = await fetch(`${instance.url}/ready`, { signal: AbortSignal.timeout(10_000) })
        last = `${response.status} ${(await response.text()).slice(0, 300)}`
        return response.status === 200
      } catch (err) {
        last = String(err)
        return false
      }
    },
    { timeoutMs, intervalMs: 500 },
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; last answer: ${last}`)
  })
}

/**
 * N instances of the built service (node dist/src/main.js, built once by the global setup), each
 * its own process on its own port, all on the same Cassandra cluster and Kafka brokers: what a
 * deployment runs behind its load balancer. They trust `keys`, so the test mints user tokens with
 * the same realm keys its harness uses. Resolves once every instance answers /ready.
 */
export async function startInstances(ports: number[], options: { keys: RealmKeys; env?: Record<string, string> }): Promise<ContractServer[]> {
  const env = { ...clusterEnv(), NODE_ENV: 'test', ...options.env }
  const started: ContractServer[] = []
  try {
    for (const port of ports) started.push(await startContractServer({ env, keys: options.keys, port, startTimeoutMs: INSTANCE_START_BUDGET_MS }))
    await Promise.all(started.map((instance) => waitReady(instance)))
    return started
  } catch (err) {
    await stopInstances(started)
    throw err
  }
}

export async function stopInstances(instances: ContractServer[]): Promise<void> {
  await Promise.all(instances.map((instance) => instance.stop()))
}
