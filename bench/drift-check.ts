import type { Config } from '../src/config/config.js'
import { composeService } from '../src/compose.js'
import { createLogger } from '../src/logging/logger.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { AuditChain, rawDeleteSequence } from './raw-delete-sequence.js'
import { compareStatements, recordStatements, type StatementComparison } from './statement-recorder.js'

export type DriftCheck = StatementComparison | { error: string }

/**
 * Does baseline B still issue what the service issues? Deletes one seeded user through the real
 * service, composed in this process (its HTTP app, its workflow, its stores), and another through
 * rawDeleteSequence, recording every statement each sends to the driver, and compares the two.
 */
export async function checkBaselineMatchesService(config: Config, request: { path: string; headers: Record<string, string>; userId: string }, baselineUserId: string): Promise<DriftCheck> {
  try {
    const service = composeService(config, createLogger('silent'))
    let status = 0
    const serviceStatements = await recordStatements(async () => {
      const response = await service.app.request(request.path, {
        method: 'POST',
        headers: request.headers,
        body: JSON.stringify({ request: { userId: request.userId } }),
      })
      status = response.status
      await response.arrayBuffer()
    })
    await service.close()
    if (status !== 200) throw new Error(`the in-process delete answered ${status}`)
    const client = createCassandraClient(config.cassandra)
    try {
      const baselineStatements = await recordStatements(() => rawDeleteSequence(client, config.cassandra.keyspace, baselineUserId, new AuditChain()))
      return compareStatements(serviceStatements, baselineStatements)
    } finally {
      await client.shutdown()
    }
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) }
  }
}
