import { AsyncLocalStorage } from 'node:async_hooks'

export type CassandraCallOutcome = 'ok' | 'unavailable' | 'error'

/** Told about every Cassandra call runCassandra makes: how it ended and how long it took. */
export interface CassandraCallRecorder {
  observeCassandraCall(outcome: CassandraCallOutcome, seconds: number): void
}

// The stores call runCassandra without knowing which service they belong to; the recorder travels
// with the async context instead of a module-level variable, so several services in one process
// (the tests) each count only their own calls.
const storage = new AsyncLocalStorage<CassandraCallRecorder>()

export function runWithCassandraRecorder<T>(recorder: CassandraCallRecorder, fn: () => T): T {
  return storage.run(recorder, fn)
}

/** The recorder of the work in progress, if any (none: the call is not measured). */
export function currentCassandraRecorder(): CassandraCallRecorder | undefined {
  return storage.getStore()
}
