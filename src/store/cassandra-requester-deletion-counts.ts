import { type Client, types } from 'cassandra-driver'
import type { RequesterDeletionCounts } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra } from './cassandra-call.js'

/**
 * user_deletion_requester_hourly: one counter per requester and clock hour, so every instance
 * reserves into (and reads) the same number. A counter update is never replayed by the driver: a
 * second application would count twice. Both statements run at LOCAL_QUORUM (the client's default),
 * so a read after an acknowledged update sees it.
 */
export class CassandraRequesterDeletionCounts implements RequesterDeletionCounts {
  private readonly read: string
  private readonly update: string

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.read = `SELECT deleted FROM ${keyspace}.user_deletion_requester_hourly WHERE requester = ? AND hour = ?`
    this.update = `UPDATE ${keyspace}.user_deletion_requester_hourly SET deleted = deleted + ? WHERE requester = ? AND hour = ?`
  }

  async count(requester: string, hour: number): Promise<number> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.read, [requester, types.Long.fromNumber(hour)], IDEMPOTENT))).first()
    const deleted = row?.get('deleted') as types.Long | null | undefined
    return deleted ? deleted.toNumber() : 0
  }

  async add(requester: string, hour: number, delta: number): Promise<void> {
    await runCassandra(this.client, (client) => client.execute(this.update, [types.Long.fromNumber(delta), requester, types.Long.fromNumber(hour)], { prepare: true, isIdempotent: false }))
  }
}
