import { type Client, types } from 'cassandra-driver'
import type { MinuteCount, RequesterDeletionCounts } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra } from './cassandra-call.js'

const MINUTES_PER_HOUR = 60

/**
 * user_deletion_requester_minutes: one counter per requester and minute, in one partition per
 * requester and clock hour (a counter cannot expire, so no partition grows for ever), so every
 * instance reserves into (and reads) the same numbers. A sliding hour reads one or two partitions
 * in one statement. A counter update is never replayed by the driver: a second application would
 * count twice. Both statements run at LOCAL_QUORUM (the client's default), so a read after an
 * acknowledged update sees it.
 */
export class CassandraRequesterDeletionCounts implements RequesterDeletionCounts {
  private readonly read: string
  private readonly update: string

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.read = `SELECT minute, deleted FROM ${keyspace}.user_deletion_requester_minutes WHERE requester = ? AND hour IN ? AND minute >= ? AND minute <= ?`
    this.update = `UPDATE ${keyspace}.user_deletion_requester_minutes SET deleted = deleted + ? WHERE requester = ? AND hour = ? AND minute = ?`
  }

  async countsBetween(requester: string, fromMinute: number, toMinute: number): Promise<MinuteCount[]> {
    const hours: types.Long[] = []
    for (let hour = Math.floor(fromMinute / MINUTES_PER_HOUR); hour <= Math.floor(toMinute / MINUTES_PER_HOUR); hour++) hours.push(types.Long.fromNumber(hour))
    const result = await runCassandra(this.client, (client) => client.execute(this.read, [requester, hours, types.Long.fromNumber(fromMinute), types.Long.fromNumber(toMinute)], IDEMPOTENT))
    return result.rows.map((row) => ({ minute: (row.get('minute') as types.Long).toNumber(), count: (row.get('deleted') as types.Long | null)?.toNumber() ?? 0 })).sort((a, b) => a.minute - b.minute)
  }

  async add(requester: string, minute: number, delta: number): Promise<void> {
    const params = [types.Long.fromNumber(delta), requester, types.Long.fromNumber(Math.floor(minute / MINUTES_PER_HOUR)), types.Long.fromNumber(minute)]
    await runCassandra(this.client, (client) => client.execute(this.update, params, { prepare: true, isIdempotent: false }))
  }
}
