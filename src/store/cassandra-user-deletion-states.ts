import { type Client, types } from 'cassandra-driver'
import { DependencyUnavailableError, UnreadableDeletionStateError } from '../deletion/errors.js'
import type { UserDeletionState, UserDeletionStates } from '../deletion/ports.js'
import { isCasOutcomeUnknown, runCassandra } from './cassandra-call.js'
import { pauseBeforeSettleRound, SETTLE_BUDGET_MS } from './settle-rounds.js'

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
    if (!expected && !next) return (await this.get(userId)) === undefined
    const cas = this.compareAndSet(userId, expected, next)
    try {
      return applied(await this.send(cas), cas.rowExists)
    } catch (err) {
      if (!isCasOutcomeUnknown(err)) throw err
      return this.settleSwap(userId, expected, next, cas, Date.now() + SETTLE_BUDGET_MS)
    }
  }

  /** The lightweight transaction that moves the hold from `expected` to `next` (at least one of them set). */
  private compareAndSet(userId: string, expected: UserDeletionState | undefined, next: UserDeletionState | undefined): CompareAndSet {
    if (!next) return { cql: this.cql.remove, params: [userId, expected?.mode, expected?.requestId], rowExists: false }
    if (!expected) return { cql: this.cql.insert, params: [userId, next.mode, next.requestId, new Date()], rowExists: true }
    return { cql: this.cql.update, params: [next.mode, next.requestId, new Date(), userId, expected.mode, expected.requestId], rowExists: false }
  }

  private send({ cql, params }: CompareAndSet): Promise<types.ResultSet> {
    // Lightweight transactions are not idempotent: the driver must not replay them on its own.
    return runCassandra(this.client, (client) => client.execute(cql, params, { prepare: true }))
  }

  /**
   * The swap's answer was lost (timed out in contention, or the driver gave up waiting): it may have
   * applied, or may still apply. A serial read finishes any round already accepted: the hold at
   * `next` is ours (request ids are unique); another hold means another request moved it first. A
   * hold still at `expected` is not final (the lost copy may yet run), so the same swap is sent
   * again: whichever copy applies leaves the same hold, and the others find it moved. Unsettled
   * within SETTLE_BUDGET_MS, Cassandra is unavailable to the caller (503), never a guess.
   */
  private async settleSwap(userId: string, expected: UserDeletionState | undefined, next: UserDeletionState | undefined, cas: CompareAndSet, settleBy: number, round = 0): Promise<boolean> {
    if (Date.now() >= settleBy) throw new DependencyUnavailableError('cassandra', { cause: new Error('the hold changed or not: its compare-and-set was not settled in time') })
    try {
      const now = await this.get(userId)
      if (sameHold(now, next)) return true
      if (!sameHold(now, expected)) return false
      if ((await this.send(cas)).wasApplied()) return true
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
    }
    await pauseBeforeSettleRound(round)
    return this.settleSwap(userId, expected, next, cas, settleBy, round + 1)
  }
}

interface CompareAndSet {
  cql: string
  params: unknown[]
  /** Whether a refusal means a row exists (the insert's), for refuseUnreadable. */
  rowExists: boolean
}

/** Whether the transaction applied; a refusal that found a row no read can tell is an error at once (refuseUnreadable). */
function applied(result: types.ResultSet, rowExists: boolean): boolean {
  if (result.wasApplied()) return true
  refuseUnreadable(result.first(), rowExists)
  return false
}

const sameHold = (a: UserDeletionState | undefined, b: UserDeletionState | undefined): boolean => a?.mode === b?.mode && a?.requestId === b?.requestId
