import { type Client, types } from 'cassandra-driver'
import type { OpenEntry } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra } from './cassandra-call.js'
import type { DeletionRequestStatements } from './deletion-request-statements.js'

/** An open entry written by a lone UPDATE (its due time) has no creation time: as old as can be. */
const NO_CREATION_TIME = new Date(0)

/** A user_deletion_request_open row as the sweeper reads it (`id` given when the row does not hold it). */
export function openEntryOf(id: string, row: types.Row): OpenEntry {
  const dueAt = row.get('dueat') as Date | null
  return { id, userId: row.get('userid') as string, createdAt: (row.get('createdat') as Date | null) ?? NO_CREATION_TIME, ...(dueAt && { dueAt }) }
}

/**
 * The sweeper's work list: user_deletion_request_open read as a ring of tokens, from where the last
 * read that stopped at its limit stopped, so requests that stay open pass after pass (partial ones
 * while a dependency is down) cannot keep the same first `limit` for ever and starve those after
 * them. Kept apart from the request's writes: it only reads the list, and remembers its place.
 */
export class OpenListRing {
  /** Where the last list that stopped at its limit stopped (a token of the open list); the ring's start at first. */
  private sweptUpTo = types.Long.MIN_VALUE
  /** A round of the open list (startRound): `going` until a list reaches the list's end. */
  private round: 'none' | 'going' | 'ended' = 'none'

  constructor(
    private readonly client: Client,
    private readonly cql: Pick<DeletionRequestStatements, 'listOpenAfter' | 'listOpenUpTo'>,
  ) {}

  /**
   * Goes round the list from where the last call stopped. Paged through: scheduled requests waiting
   * out their grace period must not crowd out the ones due now.
   */
  async list(limit: number, dueBy: Date): Promise<OpenEntry[]> {
    const from = this.sweptUpTo
    const inRound = this.round === 'going'
    const due: OpenEntry[] = []
    // From the ring's start, the first query is the whole ring: a bound at the minimum token means no bound to Cassandra, so the second would list it all again.
    // A round (startRound) stops at the ring's end: what lies before `from` it has listed already.
    const queries = from.equals(types.Long.MIN_VALUE) || inRound ? [this.cql.listOpenAfter] : [this.cql.listOpenAfter, this.cql.listOpenUpTo]
    for (const query of queries) {
      const result = await runCassandra(this.client, (client) => client.execute(query, [from], { ...IDEMPOTENT, fetchSize: 500 }))
      for await (const row of result) {
        const dueAt = row.get('dueat') as Date | null
        if (dueAt && dueAt.getTime() > dueBy.getTime()) continue
        due.push(openEntryOf(row.get('id') as string, row))
        if (due.length >= limit) {
          this.sweptUpTo = row.get('place') as types.Long
          return due
        }
      }
    }
    if (inRound) {
      // The round has reached the list's end; the next call starts from the list's start.
      this.round = 'ended'
      this.sweptUpTo = types.Long.MIN_VALUE
    }
    // Otherwise all round: the next call starts where this one did.
    return due
  }

  /** A round from the list's start that ends at its end (roundEnded), instead of wrapping round. */
  startRound(): void {
    this.sweptUpTo = types.Long.MIN_VALUE
    this.round = 'going'
  }

  roundEnded(): boolean {
    return this.round === 'ended'
  }
}
