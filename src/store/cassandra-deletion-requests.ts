import type { Client, types } from 'cassandra-driver'
import { type DeletionReceipt, type DeletionRequest, isFinished, type RequestState, STEPS, type StepName, type StepOutcome } from '../deletion/deletion-request.js'
import type { DeletionRequestStore } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra } from './cassandra-call.js'

function toRequest(row: types.Row): DeletionRequest {
  const steps = (row.get('steps') as Record<string, string> | null) ?? {}
  const receipt = row.get('receipt') as string | null
  const reason = row.get('reason') as string | null
  return {
    id: row.get('id') as string,
    userId: row.get('userid') as string,
    requestedBy: row.get('requestedby') as string,
    state: row.get('state') as RequestState,
    // Cassandra returns map keys sorted; answer them in the order the steps run.
    steps: Object.fromEntries(STEPS.filter((step) => steps[step] !== undefined).map((step) => [step, JSON.parse(steps[step] as string) as StepOutcome])),
    target: {
      rootOrgId: (row.get('rootorgid') as string | null) ?? null,
      managedBy: (row.get('managedby') as string | null) ?? null,
      organisationIds: (row.get('organisationids') as string[] | null) ?? [],
    },
    createdAt: row.get('createdat') as Date,
    updatedAt: row.get('updatedat') as Date,
    ...(reason ? { reason } : {}),
    ...(receipt ? { receipt: JSON.parse(receipt) as DeletionReceipt } : {}),
  }
}

/** Every statement of this adapter, for one keyspace. */
function deletionRequestStatements(keyspace: string) {
  const t = `${keyspace}.user_deletion_request`
  const open = `${keyspace}.user_deletion_request_open`
  const columns = 'id, userid, requestedby, state, steps, rootorgid, managedby, organisationids, createdat, updatedat, reason, receipt'
  return {
    create: `INSERT INTO ${t} (id, userid, requestedby, state, steps, rootorgid, managedby, organisationids, leaseuntil, createdat, updatedat) VALUES (?, ?, ?, ?, {}, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    open: `INSERT INTO ${open} (id, userid, createdat) VALUES (?, ?, ?)`,
    get: `SELECT ${columns} FROM ${t} WHERE id = ?`,
    byUser: `SELECT ${columns} FROM ${t} WHERE userid = ?`,
    lease: `UPDATE ${t} SET leaseuntil = ? WHERE id = ? IF leaseuntil < ?`,
    release: `UPDATE ${t} SET leaseuntil = ? WHERE id = ?`,
    step: `UPDATE ${t} SET steps[?] = ?, state = ?, updatedat = ? WHERE id = ?`,
    finish: `UPDATE ${t} SET state = ?, reason = ?, receipt = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`,
    close: `DELETE FROM ${open} WHERE id = ?`,
    listOpen: `SELECT id, userid FROM ${open} LIMIT ?`,
    eventPublished: `UPDATE ${t} SET steps['event'] = ? WHERE id = ?`,
  }
}

/**
 * user_deletion_request (one row per request, ids and outcomes only) and
 * user_deletion_request_open (what the sweeper still has to look at).
 */
export class CassandraDeletionRequests implements DeletionRequestStore {
  private readonly cql: ReturnType<typeof deletionRequestStatements>

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.cql = deletionRequestStatements(keyspace)
  }

  async create(request: DeletionRequest, leaseUntil: Date): Promise<boolean> {
    // Written before the open-list entry: the sweeper never meets an open id without its request.
    const { target } = request
    const result = await runCassandra(() =>
      this.client.execute(
        this.cql.create,
        [request.id, request.userId, request.requestedBy, request.state, target.rootOrgId, target.managedBy, target.organisationIds, leaseUntil, request.createdAt, request.updatedAt],
        { prepare: true },
      ),
    )
    if (!result.wasApplied()) return false
    await runCassandra(() => this.client.execute(this.cql.open, [request.id, request.userId, request.createdAt], IDEMPOTENT))
    return true
  }

  async get(id: string): Promise<DeletionRequest | undefined> {
    const row = (await runCassandra(() => this.client.execute(this.cql.get, [id], IDEMPOTENT))).first()
    return row ? toRequest(row) : undefined
  }

  async findByUser(userId: string, limit: number): Promise<DeletionRequest[]> {
    const rows = (await runCassandra(() => this.client.execute(this.cql.byUser, [userId], IDEMPOTENT))).rows
    return rows
      .map(toRequest)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, limit)
  }

  async acquireLease(id: string, now: Date, until: Date): Promise<boolean> {
    const result = await runCassandra(() => this.client.execute(this.cql.lease, [until, id, now], { prepare: true }))
    return result.wasApplied()
  }

  async releaseLease(id: string): Promise<void> {
    await runCassandra(() => this.client.execute(this.cql.release, [new Date(0), id], IDEMPOTENT))
  }

  async recordStep(id: string, step: StepName, outcome: StepOutcome, state: RequestState): Promise<void> {
    await runCassandra(() => this.client.execute(this.cql.step, [step, JSON.stringify(outcome), state, new Date(), id], IDEMPOTENT))
  }

  async finish(id: string, state: RequestState, fields: { receipt?: DeletionReceipt; reason?: string }): Promise<void> {
    const now = new Date()
    // The lease is released so a partial request can be taken up at once by a retry or the sweeper.
    await runCassandra(() => this.client.execute(this.cql.finish, [state, fields.reason ?? null, fields.receipt ? JSON.stringify(fields.receipt) : null, new Date(0), now, id], IDEMPOTENT))
    if (isFinished(state)) await runCassandra(() => this.client.execute(this.cql.close, [id], IDEMPOTENT))
  }

  async listOpen(limit: number): Promise<{ id: string; userId: string }[]> {
    const rows = (await runCassandra(() => this.client.execute(this.cql.listOpen, [limit], IDEMPOTENT))).rows
    return rows.map((row) => ({ id: row.get('id') as string, userId: row.get('userid') as string }))
  }

  /** The relay's confirmation that the event reached the topic. */
  async markEventPublished(id: string, at: Date): Promise<void> {
    const outcome: StepOutcome = { status: 'done', action: 'published', at: at.toISOString() }
    await runCassandra(() => this.client.execute(this.cql.eventPublished, [JSON.stringify(outcome), id], IDEMPOTENT))
  }
}
