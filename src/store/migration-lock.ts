import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { type Client, types } from 'cassandra-driver'
import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import { isCasOutcomeUnknown } from './cassandra-call.js'

/** The table of the lock, in the service's keyspace: one row, `name` = MIGRATION_LOCK_NAME, while a run migrates. */
export const MIGRATION_LOCK_TABLE = 'schema_migration_lock'
export const MIGRATION_LOCK_NAME = 'db:migrate'

/** Its creation: one small table, created before any migration and never changed (not a migration of its own: the lock guards those). */
export const migrationLockTableCql = (keyspace: string): string => `CREATE TABLE IF NOT EXISTS ${keyspace}.${MIGRATION_LOCK_TABLE} (name text PRIMARY KEY, holder text, since timestamp)`

export interface MigrationLockOptions {
  /** How long a run waits for a lock another run holds before it stops (MigrationLockError). */
  waitMs?: number
  /** Seconds the lock outlives its last renewal: a run that crashed or was killed frees it within this. */
  ttlSeconds?: number
  /** How often the holder renews the lock (a quarter of the TTL unless given). */
  renewMs?: number
  /** Pause between tries while another run holds it. */
  pollMs?: number
  /** This run's id, stored as the holder (host, process id and a random part unless given). */
  holder?: string
}

/** Defaults: a run waits up to 10 minutes; a crashed run's lock is gone within a minute. */
export const MIGRATION_LOCK_DEFAULTS = { waitMs: 600_000, ttlSeconds: 60, pollMs: 2000 } as const

/** The lock could not be taken in time, or was lost while held: its message is one line for the operator (ids and times, no data). */
export class MigrationLockError extends Error {
  override name = 'MigrationLockError'
}

export interface MigrationLock {
  readonly holder: string
  /** Throws MigrationLockError when the lock was lost (a renewal found another holder, or none succeeded within the TTL): no statement may follow. */
  assertHeld(): void
  /** Stops renewing and deletes the lock if it is still this run's; never throws (the TTL frees a lock left behind, and a line says so). */
  release(): Promise<void>
}

interface Holding {
  holder: string | null
  since: Date | null
}

/** Cluster-wide: two deploys may start in two datacenters. */
const LWT = { prepare: true, serialConsistency: types.consistencies.serial, consistency: types.consistencies.quorum } as const
const SERIAL_READ = { prepare: true, consistency: types.consistencies.serial } as const

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const describeHolding = (found: Holding): string => `${found.holder ?? 'an unknown run'}${found.since ? ` since ${found.since.toISOString()}` : ''}`

function statements(keyspace: string) {
  const t = `${keyspace}.${MIGRATION_LOCK_TABLE}`
  return {
    take: `INSERT INTO ${t} (name, holder, since) VALUES (?, ?, ?) IF NOT EXISTS USING TTL ?`,
    renew: `UPDATE ${t} USING TTL ? SET holder = ?, since = ? WHERE name = ? IF holder = ?`,
    read: `SELECT holder, since FROM ${t} WHERE name = ?`,
    release: `DELETE FROM ${t} WHERE name = ? IF holder = ?`,
  }
}

/**
 * Takes the migration lock: a lightweight transaction on one row (INSERT … IF NOT EXISTS with a
 * TTL), so of two db:migrate runs at the same time (two deploys starting) one migrates while the
 * other waits, then finds every migration recorded. While another run holds it, says so once per
 * holder and tries again every `pollMs`, for up to `waitMs`, then throws MigrationLockError. A take
 * whose answer was lost is settled by reading the row serially (and any later try that finds this
 * run's own id holds it); one never settled within `waitMs` is Cassandra unavailable, as is any
 * other failure at once. The holder renews the lock every `renewMs` until release.
 */
export async function acquireMigrationLock(client: Client, keyspace: string, log: (line: string) => void, options: MigrationLockOptions = {}): Promise<MigrationLock> {
  const waitMs = options.waitMs ?? MIGRATION_LOCK_DEFAULTS.waitMs
  const ttlSeconds = options.ttlSeconds ?? MIGRATION_LOCK_DEFAULTS.ttlSeconds
  const pollMs = options.pollMs ?? MIGRATION_LOCK_DEFAULTS.pollMs
  const holder = options.holder ?? `${hostname()}/pid ${process.pid}/${randomUUID().slice(0, 8)}`
  const cql = statements(keyspace)
  const started = Date.now()
  const giveUpAt = started + waitMs
  let waited = false
  let waitingFor: string | null = null
  let since = new Date()
  for (;;) {
    let found: Holding | undefined
    try {
      since = new Date()
      const result = await client.execute(cql.take, [MIGRATION_LOCK_NAME, holder, since, ttlSeconds], LWT)
      if (result.wasApplied()) break
      found = holdingOf(result.first())
    } catch (err) {
      // Out of reach, refusing: migrate stops as on any statement. Only a take whose outcome is unknown is settled.
      if (!isCasOutcomeUnknown(err)) throw err
      found = await readHolding(client, cql.read).catch(() => undefined)
    }
    if (found?.holder === holder) {
      since = found.since ?? since
      break
    }
    if (Date.now() >= giveUpAt) {
      if (!found) {
        throw new DependencyUnavailableError('cassandra', {
          cause: new WordedCause(`the migration lock's lightweight transaction was not settled within ${Math.round(waitMs / 1000)} s (timed out under contention or load); run db:migrate again`),
        })
      }
      throw new MigrationLockError(
        `the migration lock (${keyspace}.${MIGRATION_LOCK_TABLE}) is still held by ${describeHolding(found)} after waiting ${Math.round(waitMs / 1000)} s: ` +
          `another db:migrate run is under way; run it again once that one has ended (a run that was killed frees the lock within ${ttlSeconds} s)`,
      )
    }
    if (found && (!waited || found.holder !== waitingFor)) {
      waited = true
      waitingFor = found.holder
      log(`waiting for the migration lock, held by ${describeHolding(found)}: another db:migrate run is under way (waiting up to ${Math.round(waitMs / 1000)} s)`)
    }
    await pause(Math.max(0, Math.min(pollMs, giveUpAt - Date.now())))
  }
  if (waited) log(`took the migration lock after waiting ${Math.round((Date.now() - started) / 1000)} s`)
  return holdLock(client, cql, holder, since, ttlSeconds, options.renewMs ?? (ttlSeconds * 1000) / 4, log)
}

function holdingOf(row: types.Row | null): Holding | undefined {
  if (!row) return undefined
  return { holder: (row.get('holder') as string | null) ?? null, since: (row.get('since') as Date | null) ?? null }
}

async function readHolding(client: Client, read: string): Promise<Holding | undefined> {
  return holdingOf((await client.execute(read, [MIGRATION_LOCK_NAME], SERIAL_READ)).first())
}

/** The lock as held: renewed on a timer (its `since` kept), lost when a renewal finds another holder or none succeeds within the TTL. */
function holdLock(client: Client, cql: ReturnType<typeof statements>, holder: string, since: Date, ttlSeconds: number, renewMs: number, log: (line: string) => void): MigrationLock {
  let confirmedAt = Date.now()
  let lostTo: string | undefined
  let renewing: Promise<void> = Promise.resolve()
  const renew = async () => {
    try {
      const result = await client.execute(cql.renew, [ttlSeconds, holder, since, MIGRATION_LOCK_NAME, holder], LWT)
      if (result.wasApplied()) confirmedAt = Date.now()
      else {
        const now = holdingOf(result.first())
        lostTo = now?.holder ? `taken by ${describeHolding(now)}` : `it expired`
      }
    } catch {
      // Not confirmed this time: assertHeld counts from the last renewal that was.
    }
  }
  const timer = setInterval(() => {
    renewing = renewing.then(renew)
  }, renewMs).unref()
  return {
    holder,
    assertHeld() {
      const lost = lostTo ?? (Date.now() - confirmedAt >= ttlSeconds * 1000 ? `no renewal succeeded within its ${ttlSeconds} s` : undefined)
      if (lost) {
        throw new MigrationLockError(`the migration lock was lost (${lost}): another db:migrate run may be migrating; stopped before the next statement, run it again once that one has ended`)
      }
    },
    async release() {
      clearInterval(timer)
      await renewing
      try {
        await client.execute(cql.release, [MIGRATION_LOCK_NAME, holder], LWT)
      } catch {
        log(`the migration lock could not be released (Cassandra did not answer): it frees itself within ${ttlSeconds} s`)
      }
    },
  }
}
