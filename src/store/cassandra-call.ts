import { type Client, errors, types } from 'cassandra-driver'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { cassandraRecorderOf } from '../metrics/cassandra-call-recorder.js'

const TRANSIENT_SERVER_CODES = new Set<number>([
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.writeTimeout,
  types.responseErrorCodes.readTimeout,
  // Replicas that answered with a failure rather than not at all: a read over more tombstones than
  // tombstone_failure_threshold, an index still building or not yet available on a replica, a
  // replica's disk or commit log failing. The cluster's state, not the query: the same statement
  // succeeds once it clears, as after a timeout.
  types.responseErrorCodes.readFailure,
  types.responseErrorCodes.writeFailure,
])

/**
 * True when Cassandra could not be reached, did not answer in time, or its replicas failed the
 * request (read or write failure): the caller gets a 503 and may retry. Everything else (syntax,
 * schema, invalid query) is a bug and stays a 500.
 */
export function isCassandraUnavailable(err: unknown): boolean {
  if (err instanceof errors.NoHostAvailableError || err instanceof errors.OperationTimedOutError || err instanceof errors.BusyConnectionError) return true
  if (err instanceof errors.ResponseError) return TRANSIENT_SERVER_CODES.has(err.code)
  // Raised by the driver when connect() failed: the client stays unusable until a later call reconnects.
  if (err instanceof errors.DriverError && /connect|socket|closed|shutdown/i.test(err.message)) return true
  return false
}

/**
 * True when a lightweight transaction was sent and its answer lost: Cassandra's write timeout (in any
 * of its rounds: CAS, or SIMPLE for the commit), its write failure (replicas that failed the round
 * rather than timing out: those that did not may have accepted the proposal, which a later round
 * completes), or the driver's own timeout (no answer within readTimeoutMs, often first under
 * contention). Whether it applied is unknown until a SERIAL read settles it, which also completes
 * any round still in flight.
 */
export function isCasOutcomeUnknown(err: unknown): boolean {
  const cause = err instanceof DependencyUnavailableError ? err.cause : err
  if (cause instanceof errors.OperationTimedOutError) return true
  return cause instanceof errors.ResponseError && (cause.code === types.responseErrorCodes.writeTimeout || cause.code === types.responseErrorCodes.writeFailure)
}

/** Options for statements safe to replay (reads, plain writes of constant values): the driver may retry them. */
export const IDEMPOTENT = { prepare: true, isIdempotent: true } as const

/**
 * Runs a driver call on the client, turning "Cassandra did not answer" into a domain error (503);
 * anything else stays a bug (500). Each call is timed into the client's recorder, when it has one.
 */
export async function runCassandra<T>(client: Client, call: (client: Client) => Promise<T>): Promise<T> {
  const recorder = cassandraRecorderOf(client)
  const started = performance.now()
  try {
    const result = await call(client)
    recorder?.observeCassandraCall('ok', (performance.now() - started) / 1000)
    return result
  } catch (err) {
    const unavailable = isCassandraUnavailable(err)
    recorder?.observeCassandraCall(unavailable ? 'unavailable' : 'error', (performance.now() - started) / 1000)
    if (unavailable) throw new DependencyUnavailableError('cassandra', { cause: err })
    throw err
  }
}

/**
 * Idempotent writes that need no order among them, sent as one batch, unlogged unless `logged`: one
 * request instead of one per write (a deletion's lookups, identities, memberships, outbox rows; audit
 * records queued together; a batch job's rows). Unlogged, as for the same writes sent in parallel, a
 * failure says nothing of which landed: nothing is atomic about it, and the caller treats them all
 * as not written.
 * `timestamp` (µs since the epoch): the write time of every one of them, instead of the driver's.
 * `logged`: writes that must land whole or not at all, as a logged batch (applied whole once
 * Cassandra has taken it, even when its answer is lost), at the cost of the batch log.
 */
export async function writeTogether(
  client: Client,
  writes: readonly { query: string; params: unknown[] }[],
  { logged = false, ...options }: { timestamp?: number; logged?: boolean } = {},
): Promise<void> {
  const [only] = writes
  if (!only) return
  if (writes.length === 1) await runCassandra(client, (c) => c.execute(only.query, only.params, { ...IDEMPOTENT, ...options }))
  else await runCassandra(client, (c) => c.batch([...writes], { ...IDEMPOTENT, logged, ...options }))
}
