import { builtServerEnv } from '../../support/built-server-env.js'
import { startBuiltServer, type SpawnedServer } from '../../support/spawned-server.js'
import { clusterEnv } from './cluster-env.js'

/**
 * N instances of the built service (node dist/src/main.js, built by the global setup), each its own
 * process on its own port, all on the same Cassandra cluster and Kafka brokers: what a deployment
 * runs behind its load balancer. `keysDir` is the PEM folder the test mints user tokens with.
 */
export async function startInstances(
  ports: number[],
  options: { keysDir: string; env?: Record<string, string> },
): Promise<SpawnedServer[]> {
  const env = { ...builtServerEnv(options.keysDir), ...clusterEnv(), NODE_ENV: 'test', ...options.env }
  const started: SpawnedServer[] = []
  try {
    for (const port of ports) started.push(await startBuiltServer(env, { port }))
    return started
  } catch (err) {
    await stopInstances(started)
    throw err
  }
}

export async function stopInstances(instances: SpawnedServer[]): Promise<void> {
  await Promise.all(instances.map((instance) => instance.stop()))
}
