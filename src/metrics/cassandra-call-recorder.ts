import type { Client } from 'cassandra-driver'

export type CassandraCallOutcome = 'ok' | 'unavailable' | 'error'

/** Told about every Cassandra call runCassandra makes: how it ended and how long it took. */
export interface CassandraCallRecorder {
  observeCassandraCall(outcome: CassandraCallOutcome, seconds: number): void
}

// Each service composes a driver client of its own, so the client says whose calls they are: several
// services in one process (the tests) each count only their own. Keyed by the client rather than
// carried in an AsyncLocalStorage, whose promise hooks Node 20 runs on every promise of the process
// (a third of a rejected request's CPU, measured by the bench).
const recorders = new WeakMap<Client, CassandraCallRecorder>()

/** From now on, every call runCassandra makes on this client is timed into the recorder. */
export function recordCassandraCalls(client: Client, recorder: CassandraCallRecorder): void {
  recorders.set(client, recorder)
}

/** The recorder of the client's calls, if any (none: the calls are not measured). */
export function cassandraRecorderOf(client: Client): CassandraCallRecorder | undefined {
  return recorders.get(client)
}
