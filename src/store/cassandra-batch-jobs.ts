import { type Client, types } from 'cassandra-driver'
import type { Caller } from '../deletion/caller.js'
import type { BatchCancellation, BatchCancelOutcome, BatchItem, BatchItemStatus, BatchJob, BatchJobState, BatchJobStore, BatchSliceState, SliceTally } from '../deletion/ports.js'
import { IDEMPOTENT, runCassandra, writeTogether } from './cassandra-call.js'
import { stampedWithin, WriteStamps } from './write-stamps.js'

/** Rows per insert batch: all of one partition (the job), well under Cassandra's batch size limit. */
const ROWS_PER_BATCH = 50
const NEVER = new Date(0)

function statements(keyspace: string) {
  const job = `${keyspace}.user_deletion_batch`
  const open = `${keyspace}.user_deletion_batch_open`
  const slice = `${keyspace}.user_deletion_batch_slice`
  const item = `${keyspace}.user_deletion_batch_item`
  const pace = `${keyspace}.user_deletion_batch_pace`
  return {
    // The one lightweight transaction of a submit: of submits under one id (a retried Idempotency-Key) exactly one records the job.
    createJob: `INSERT INTO ${job} (id, createdby, caller, organisationids, mode, total, slices, state, createdat, updatedat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    // A job whose id no other submit names (random: no Idempotency-Key): written with its listing in one logged batch, no compare-and-set.
    writeJob: `INSERT INTO ${job} (id, createdby, caller, organisationids, mode, total, slices, state, createdat, updatedat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    open: `INSERT INTO ${open} (id, createdat) VALUES (?, ?)`,
    unlist: `DELETE FROM ${open} WHERE id = ?`,
    listOpen: `SELECT id FROM ${open}`,
    getJob: `SELECT id, createdby, caller, organisationids, mode, total, slices, state, createdat, updatedat, cancelledat, cancelledby FROM ${job} WHERE id = ?`,
    setState: `UPDATE ${job} SET state = ?, updatedat = ? WHERE id = ?`,
    // A lightweight transaction: of two cancels exactly one is recorded, and the other is told whose stands.
    cancel: `UPDATE ${job} SET cancelledat = ?, cancelledby = ? WHERE id = ? IF cancelledat = null`,
    createSlice: `INSERT INTO ${slice} (jobid, slice, leaseuntil, done) VALUES (?, ?, ?, false)`,
    slices: `SELECT slice, done, leaseuntil, owner, succeeded, failed, cancelled, owed, firstsettledat, lastsettledat FROM ${slice} WHERE jobid = ?`,
    // The one lightweight transaction per slice: of instances racing for it exactly one works it.
    // Not done until its new holder says so: a former holder's finish that lands late, stamped
    // within its lease and so before this, is older and does not count.
    acquire: `UPDATE ${slice} SET owner = ?, leaseuntil = ?, done = false WHERE jobid = ? AND slice = ? IF leaseuntil < ?`,
    // The same, for a slice read never taken: refused if an instance took it since the read (see the port).
    acquireNeverTaken: `UPDATE ${slice} SET owner = ?, leaseuntil = ?, done = false WHERE jobid = ? AND slice = ? IF leaseuntil < ? AND owner = null`,
    renew: `UPDATE ${slice} SET leaseuntil = ? WHERE jobid = ? AND slice = ? IF owner = ?`,
    release: `UPDATE ${slice} SET leaseuntil = ? WHERE jobid = ? AND slice = ? IF owner = ?`,
    finishSlice: `UPDATE ${slice} SET done = true, leaseuntil = ?, succeeded = ?, failed = ?, cancelled = ?, owed = ?, firstsettledat = ?, lastsettledat = ? WHERE jobid = ? AND slice = ?`,
    createItem: `INSERT INTO ${item} (jobid, slice, userid, status, attempts) VALUES (?, ?, ?, 'pending', 0)`,
    sliceItems: `SELECT slice, userid, status, err, attempts, at, owed FROM ${item} WHERE jobid = ? AND slice = ?`,
    itemsPage: `SELECT slice, userid, status, err, attempts, at, owed FROM ${item} WHERE jobid = ? LIMIT ?`,
    recordItem: `UPDATE ${item} SET status = ?, err = ?, attempts = ?, at = ?, owed = ? WHERE jobid = ? AND slice = ? AND userid = ?`,
    takeToken: `UPDATE ${pace} SET taken = taken + 1 WHERE jobid = ? AND second = ?`,
    readTokens: `SELECT taken FROM ${pace} WHERE jobid = ? AND second = ?`,
  }
}

function toItem(row: types.Row): BatchItem {
  const err = row.get('err') as string | null
  const at = row.get('at') as Date | null
  return {
    userId: row.get('userid') as string,
    slice: row.get('slice') as number,
    status: row.get('status') as BatchItemStatus,
    attempts: (row.get('attempts') as number | null) ?? 0,
    ...(err && { err }),
    ...(at && { at }),
    // Null for an outcome recorded before migration 16, or owing nothing.
    ...(row.get('owed') === true && { owed: true }),
  }
}

function toJob(row: types.Row): BatchJob {
  const mode = row.get('mode') as 'soft' | 'hard' | null
  const cancelledAt = row.get('cancelledat') as Date | null
  return {
    id: row.get('id') as string,
    createdBy: row.get('createdby') as string,
    caller: JSON.parse(row.get('caller') as string) as Caller,
    organisationIds: (row.get('organisationids') as string[] | null) ?? [],
    ...(mode && { mode }),
    total: row.get('total') as number,
    slices: row.get('slices') as number,
    state: row.get('state') as BatchJobState,
    createdAt: row.get('createdat') as Date,
    updatedAt: row.get('updatedat') as Date,
    ...(cancelledAt && { cancelled: { at: cancelledAt, by: (row.get('cancelledby') as string | null) ?? '' } }),
  }
}

/** A done slice's counts; none for a slice not done, or done before the counts were kept (migration 11). */
function toTally(row: types.Row): SliceTally | undefined {
  const succeeded = row.get('succeeded') as number | null
  if (row.get('done') !== true || succeeded === null) return undefined
  const first = row.get('firstsettledat') as Date | null
  const last = row.get('lastsettledat') as Date | null
  // An empty map reads back as null.
  const failed = (row.get('failed') as Record<string, number> | null) ?? {}
  const cancelled = row.get('cancelled') as number | null
  const owed = row.get('owed') as number | null
  return { succeeded, failed, ...(cancelled && { cancelled }), ...(owed && { owed }), ...(first && { firstSettledAt: first }), ...(last && { lastSettledAt: last }) }
}

/**
 * user_deletion_batch (the job), user_deletion_batch_open (jobs still to work), _slice (the leases
 * that spread a job over instances), _item (one outcome per user) and _pace (a per-second token
 * counter shared by every instance). Only recording a job under an id a retried submit may name
 * too (create) and taking or renewing a slice are lightweight transactions; every other write is a
 * plain, idempotent one keyed by job, slice and user; a job's slices, users and listing are written
 * as of its creation, and a holder's outcomes are fenced by its slice lease, both through their
 * write time. The one logged batch: a job of a random id with its listing (createWhole).
 */
export class CassandraBatchJobs implements BatchJobStore {
  private readonly cql: ReturnType<typeof statements>
  private readonly stamps = new WriteStamps()

  /** Rows per page of the open jobs' listing (the driver's default, 5,000, unless told). */
  private readonly listPageSize: number | undefined

  constructor(
    private readonly client: Client,
    keyspace: string,
    options: { listPageSize?: number } = {},
  ) {
    this.cql = statements(keyspace)
    this.listPageSize = options.listPageSize
  }

  /** The job row's values, in the order of both job inserts. */
  private jobValues(job: BatchJob): unknown[] {
    return [job.id, job.createdBy, JSON.stringify(job.caller), job.organisationIds, job.mode ?? null, job.total, job.slices, job.state, job.createdAt, job.updatedAt]
  }

  async create(job: BatchJob): Promise<BatchJob | undefined> {
    // A lightweight transaction is not idempotent: the driver must not replay it on its own. An
    // answer lost (a timeout) is a 503; the submit retried with its key finds the job if it landed.
    const result = await runCassandra(this.client, (client) => client.execute(this.cql.createJob, this.jobValues(job), { prepare: true }))
    if (result.wasApplied()) return undefined
    // Not applied: the answer holds the row recorded under the id.
    const existing = result.first()
    if (!existing) throw new Error(`batch job ${job.id} not created, and no job recorded under its id`)
    return toJob(existing)
  }

  async open(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<void> {
    const asCreated = await this.writeSlicesAndItems(job, items)
    if (job.state === 'completed') return
    // Listed last: a runner never meets a job whose users are not all written.
    await runCassandra(this.client, (client) => client.execute(this.cql.open, [job.id, job.createdAt], { ...IDEMPOTENT, ...asCreated }))
  }

  async createWhole(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<void> {
    const asCreated = await this.writeSlicesAndItems(job, items)
    // Then the job and its listing, both or neither: a logged batch is applied whole once Cassandra
    // has taken it, even when its answer is lost, and not at all when it was refused. Rows that were
    // written before a failure are named by no job: the status route finds none, no runner lists it.
    // Plain inserts at a fixed write time: replaying them writes the same.
    const together = [
      { query: this.cql.writeJob, params: this.jobValues(job) },
      { query: this.cql.open, params: [job.id, job.createdAt] },
    ]
    await runCassandra(this.client, (client) => client.batch(together, { ...IDEMPOTENT, logged: true, ...asCreated }))
  }

  /**
   * A job's slices (free) and the given users (pending), written as of the job's creation, whenever
   * they are sent: every write to these rows since (a slice taken or finished, an outcome recorded,
   * the job unlisted once completed) is stamped later and wins, so writing them again, by a retried
   * submit or a late copy of this one, resets nothing. Answers that write time, for what follows.
   */
  private async writeSlicesAndItems(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<{ timestamp: number }> {
    const asCreated = { timestamp: job.createdAt.getTime() * 1000 }
    const rows: { query: string; params: unknown[] }[] = [
      ...Array.from({ length: job.slices }, (_, slice) => ({ query: this.cql.createSlice, params: [job.id, slice, NEVER] })),
      ...items.map((item) => ({ query: this.cql.createItem, params: [job.id, item.slice, item.userId] })),
    ]
    const chunks: (typeof rows)[] = []
    for (let start = 0; start < rows.length; start += ROWS_PER_BATCH) chunks.push(rows.slice(start, start + ROWS_PER_BATCH))
    // One partition per job: unlogged batches of it are applied as single mutations.
    await Promise.all(chunks.map((chunk) => writeTogether(this.client, chunk, asCreated)))
    return asCreated
  }

  async get(jobId: string): Promise<BatchJob | undefined> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.getJob, [jobId], IDEMPOTENT))).first()
    return row ? toJob(row) : undefined
  }

  async items(jobId: string, slice: number): Promise<BatchItem[]> {
    return (await runCassandra(this.client, (client) => client.execute(this.cql.sliceItems, [jobId, slice], IDEMPOTENT))).rows.map(toItem)
  }

  async itemsPage(jobId: string, offset: number, limit: number): Promise<BatchItem[]> {
    if (limit <= 0) return []
    const result = await runCassandra(this.client, (client) => client.execute(this.cql.itemsPage, [jobId, offset + limit], { ...IDEMPOTENT, fetchSize: 5000 }))
    return result.rows.slice(offset).map(toItem)
  }

  async recordItem(jobId: string, item: BatchItem, heldUntil: Date): Promise<boolean> {
    // Written whole (false, not left as it was): a later try's outcome replaces an earlier one's.
    return this.writeUnderLease(this.cql.recordItem, [item.status, item.err ?? null, item.attempts, item.at ?? null, item.owed === true, jobId, item.slice, item.userId], heldUntil)
  }

  async setState(jobId: string, state: BatchJobState): Promise<void> {
    await runCassandra(this.client, (client) => client.execute(this.cql.setState, [state, new Date(), jobId], IDEMPOTENT))
  }

  async cancel(jobId: string, cancellation: BatchCancellation): Promise<BatchCancelOutcome> {
    // A lightweight transaction is not idempotent: the driver must not replay it on its own. An
    // answer lost (a timeout) is a 503; a cancel retried then finds this one if it landed.
    const result = await runCassandra(this.client, (client) => client.execute(this.cql.cancel, [cancellation.at, cancellation.by, jobId], { prepare: true }))
    if (result.wasApplied()) return { recorded: true, at: cancellation.at }
    // Not applied: the answer holds the time of the cancel recorded first.
    const at = result.first()?.get('cancelledat') as Date | null | undefined
    if (!at) throw new Error(`batch job ${jobId}: cancel not recorded, and no cancel found recorded`)
    return { recorded: false, at }
  }

  async listOpen(): Promise<string[]> {
    // Every page: a listing cut at the driver's first (5,000 rows) would leave the jobs past it unworked for good.
    const ids: string[] = []
    let pageState: string | undefined
    do {
      const options = { ...IDEMPOTENT, ...(this.listPageSize !== undefined && { fetchSize: this.listPageSize }), ...(pageState !== undefined && { pageState }) }
      const page = await runCassandra(this.client, (client) => client.execute(this.cql.listOpen, [], options))
      for (const row of page.rows) ids.push(row.get('id') as string)
      pageState = page.pageState ?? undefined
    } while (pageState)
    return ids
  }

  async complete(jobId: string): Promise<void> {
    await this.setState(jobId, 'completed')
    await runCassandra(this.client, (client) => client.execute(this.cql.unlist, [jobId], IDEMPOTENT))
  }

  async slices(jobId: string): Promise<BatchSliceState[]> {
    const rows = (await runCassandra(this.client, (client) => client.execute(this.cql.slices, [jobId], IDEMPOTENT))).rows
    return rows.map((row) => {
      const tally = toTally(row)
      return {
        slice: row.get('slice') as number,
        done: row.get('done') === true,
        leaseUntil: (row.get('leaseuntil') as Date | null) ?? NEVER,
        taken: row.get('owner') !== null,
        ...(tally && { tally }),
      }
    })
  }

  async acquireSlice(jobId: string, slice: number, owner: string, now: Date, until: Date, neverTaken = false): Promise<boolean> {
    const query = neverTaken ? this.cql.acquireNeverTaken : this.cql.acquire
    // A lightweight transaction is not idempotent: the driver must not replay it on its own.
    return (await runCassandra(this.client, (client) => client.execute(query, [owner, until, jobId, slice, now], { prepare: true }))).wasApplied()
  }

  async renewSlice(jobId: string, slice: number, owner: string, until: Date): Promise<boolean> {
    return (await runCassandra(this.client, (client) => client.execute(this.cql.renew, [until, jobId, slice, owner], { prepare: true }))).wasApplied()
  }

  async releaseSlice(jobId: string, slice: number, owner: string): Promise<void> {
    // A compare-and-set on the owner, paid only when a slice is given back unfinished (a stop, a dependency in trouble).
    await runCassandra(this.client, (client) => client.execute(this.cql.release, [NEVER, jobId, slice, owner], { prepare: true }))
  }

  async finishSlice(jobId: string, slice: number, tally: SliceTally, heldUntil: Date): Promise<boolean> {
    return this.writeUnderLease(
      this.cql.finishSlice,
      [NEVER, tally.succeeded, tally.failed, tally.cancelled ?? 0, tally.owed ?? 0, tally.firstSettledAt ?? null, tally.lastSettledAt ?? null, jobId, slice],
      heldUntil,
    )
  }

  /** A holder's write, stamped while its slice lease holds (see WriteStamps); none once it has run out. */
  private async writeUnderLease(query: string, params: unknown[], heldUntil: Date): Promise<boolean> {
    const timestamp = this.stamps.next()
    if (!stampedWithin(timestamp, heldUntil)) return false
    await runCassandra(this.client, (client) => client.execute(query, params, { ...IDEMPOTENT, timestamp }))
    return true
  }

  async takePaceToken(jobId: string, second: number): Promise<number> {
    const key = [jobId, types.Long.fromNumber(second)]
    // A counter increment is not idempotent: never replayed by the driver (a lost answer costs one token, never an extra deletion).
    await runCassandra(this.client, (client) => client.execute(this.cql.takeToken, key, { prepare: true }))
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.readTokens, key, IDEMPOTENT))).first()
    const taken = row?.get('taken') as types.Long | null | undefined
    return taken ? taken.toNumber() : 0
  }
}
