import { type Client, types } from 'cassandra-driver'
import { UnreadableDeletionStateError } from '../deletion/errors.js'
import type { UserDeletionState, UserDeletionStates } from '../deletion/ports.js'
import { isCasOutcomeUnknown, runCassandra } from './cassandra-call.js'

const MODES = new Set<UserDeletionState['mode']>(['soft', 'hard', 'sunbird', 'restoring'])

/** Every statement of this adapter, for one keyspace. */
function statements(keyspace: string) {
  const t = `${keyspace}.user_deletion_state`
  return {
    get: `SELECT mode, requestid FROM ${t} WHERE userid = ?`,
    insert: `INSERT INTO ${t} (userid, mode, requestid, updatedat) VALUES (?, ?, ?, ?) IF NOT EXISTS`,
    update: `UPDATE ${t} SET mode = ?, requestid = ?, updatedat = ? WHERE userid = ? IF mode = ? AND requestid = ?`,
    remove: `DELETE FROM ${t} WHERE userid = ? IF mode = ? AND requestid = ?`,
  }
}

/**
 * What a compare-and-set that did not apply found (Cassandra answers the row's values with it:
 * every column for INSERT … IF NOT EXISTS, the conditioned ones for UPDATE / DELETE … IF), when it
 * is a row no read of this adapter can tell: a mode it does not know, or (for the insert, which a
 * row exists to refuse) no mode or no request id. get() takes such a row for no hold, so a caller
 * would try the insert again and again: UnreadableDeletionStateError instead, at once.
 */
function refuseUnreadable(row: types.Row | null, rowExists: boolean): void {
  const mode = row?.get('mode') as string | null | undefined
  const requestId = row?.get('requestid') as string | null | undefined
  const known = typeof mode === 'string' && MODES.has(mode as UserDeletionState['mode'])
  if (typeof mode === 'string' && !known) throw new UnreadableDeletionStateError(mode)
  if (rowExists && !(known && requestId)) throw new UnreadableDeletionStateError(mode ?? null)
}

/**
 * user_deletion_state: which deletion holds a user. Every change is a lightweight transaction on
 * the user's row, and reads are LOCAL_SERIAL, so a read never misses a change another instance has
 * committed: of racing requests exactly one moves the state.
 */
export class CassandraUserDeletionStates implements UserDeletionStates {
  private readonly cql: ReturnType<typeof statements>

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.cql = statements(keyspace)
  }

  async get(userId: string): Promise<UserDeletionState | undefined> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.get, [userId], { prepare: true, consistency: types.consistencies.localSerial }))).first()
    const mode = row?.get('mode') as UserDeletionState['mode'] | null | undefined
    const requestId = row?.get('requestid') as string | null | undefined
    return mode && MODES.has(mode) && requestId ? { mode, requestId } : undefined
  }

  async swap(userId: string, expected: UserDeletionState | undefined, next: UserDeletionState | undefined): Promise<boolean> {
    // Lightweight transactions are not idempotent: the driver must not replay them on its own.
    const run = (cql: string, params: unknown[]) => runCassandra(this.client, (client) => client.execute(cql, params, { prepare: true }))
    if (!expected && !next) return (await this.get(userId)) === undefined
    const applied = (result: types.ResultSet, rowExists: boolean): boolean => {
      if (result.wasApplied()) return true
      refuseUnreadable(result.first(), rowExists)
      return false
    }
    if (!next) return expected ? applied(await run(this.cql.remove, [userId, expected.mode, expected.requestId]), false) : false
    try {
      if (!expected) return applied(await run(this.cql.insert, [userId, next.mode, next.requestId, new Date()]), true)
      return applied(await run(this.cql.update, [next.mode, next.requestId, new Date(), userId, expected.mode, expected.requestId]), false)
    } catch (err) {
      if (!isCasOutcomeUnknown(err)) throw err
      // Racing transactions on one row can time out in contention. Request ids are unique, so the
      // row read at SERIAL says whether this one moved the state.
      const now = await this.get(userId)
      return now?.requestId === next.requestId && now.mode === next.mode
    }
  }
}
