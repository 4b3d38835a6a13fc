import type { Client } from 'cassandra-driver'
import { waitUntil } from './wait-until.js'

/**
 * Writes back what a tampering case changed in the audit tables, retried while Cassandra does not
 * answer (an earlier test may have just paused or restarted it): an undo that failed once would leave a chain
 * broken for every later verification in the shared keyspace.
 */
export async function undoTampering(db: Client, cql: string, values: unknown[]): Promise<void> {
  await waitUntil(
    'the tampering to be undone',
    () =>
      db.execute(cql, values, { prepare: true }).then(
        () => true,
        () => false,
      ),
    { timeoutMs: 120_000, intervalMs: 500 },
  )
}
