import type { Config } from '../src/config/config.js'
import { composeService } from '../src/compose.js'
import { createLogger } from '../src/logging/logger.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { AuditChain, rawDeleteSequence } from './raw-delete-sequence.js'
import { compareStatements, recordStatements, type StatementComparison } from './statement-recorder.js'

export type DriftCheck = StatementComparison | { error: string }

/** One self-deletion through the in-process service: the route, the caller's headers, the user. */
export interface DriftRequest {
  path: string
  headers: Record<string, string>
  userId: string
}

/**
 * Does baseline B still issue what the service issues? Deletes seeded users through the real
 * service, composed in this process (its HTTP app, its workflow, its stores): `warmup` first,
 * unrecorded, so what the process caches (each table's settings for the receipt, the topic's
 * retention) is warm as in the steady state; then `recorded`, recording every statement it sends to
 * the driver. Another user is deleted through rawDeleteSequence (which caches nothing), recorded
 * too, and the two are compared. The audit anchor timer is off in this service: it writes on its own
 * clock, not per deletion, and would land in the recording now and then.
 */
export async function checkBaselineMatchesService(config: Config, requests: { warmup: DriftRequest; recorded: DriftRequest }, baselineUserId: string): Promise<DriftCheck> {
  try {
    const service = composeService({ ...config, audit: { ...config.audit, anchorIntervalMs: 0 } }, createLogger('silent'))
    let serviceStatements: Awaited<ReturnType<typeof recordStatements>>
    try {
      const deleteThrough = async (request: DriftRequest, what: string) => {
        const response = await service.app.request(request.path, {
          method: 'POST',
          headers: request.headers,
          body: JSON.stringify({ request: { userId: request.userId } }),
        })
        await response.arrayBuffer()
        if (response.status !== 200) throw new Error(`the in-process ${what} delete answered ${response.status}`)
      }
      await deleteThrough(requests.warmup, 'warm-up')
      serviceStatements = await recordStatements(() => deleteThrough(requests.recorded, 'recorded'))
    } finally {
      await service.close()
    }
    const client = createCassandraClient(config.cassandra)
    try {
      const baselineStatements = await recordStatements(() => rawDeleteSequence(client, config.cassandra.keyspace, baselineUserId, new AuditChain(client, config.cassandra.keyspace)))
      return compareStatements(serviceStatements, baselineStatements)
    } finally {
      await client.shutdown()
    }
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) }
  }
}
