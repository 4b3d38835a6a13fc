import type { BatchCancellation, BatchCancelOutcome, BatchItem, BatchJob, BatchJobState, BatchJobStore, BatchSliceState, SliceTally } from '../../../src/deletion/ports.js'
import { FailureQueue, Timeline } from './timeline.js'

type Method = keyof BatchJobStore

interface Slice {
  leaseUntil: Date
  /** The last instance that took the slice; kept when the slice is released or finished. */
  owner?: string
  done: boolean
  tally?: SliceTally
}

interface Row {
  job: BatchJob
  open: boolean
  slices: Map<number, Slice>
  /** By `<slice>/<userId>`. */
  items: Map<string, BatchItem>
}

const EPOCH = new Date(0)
const itemKey = (slice: number, userId: string) => `${slice}/${userId}`
/** Cassandra's order of a job's items: by slice, then by user id. */
const inSliceOrder = (a: BatchItem, b: BatchItem) => a.slice - b.slice || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)

/**
 * Batch jobs in memory, with the Cassandra adapter's semantics:
 * - create records the job unless one is recorded under its id (then it answers that one and changes
 *   nothing); the organisation ids are a set (each once, sorted), the caller a JSON copy, and a job
 *   without a mode reads back without one;
 * - createWhole records the job (over any under its id), its slices and users and its listing at
 *   once, or, when it fails, none of them;
 * - open writes the job's slices (free: lease at the epoch, never taken, not done) and the given users
 *   (pending, no tries) that are not there yet, leaving those that are as they are, and lists the job
 *   open unless it is given as completed or is completed (as if written at the job's creation:
 *   anything written since wins);
 * - items and itemsPage answer in slice order, then user id; recordItem replaces the whole outcome
 *   (a code or time it does not carry is gone);
 * - setState stamps updatedAt with the clock; complete sets 'completed' and unlists the job; cancel
 *   records who and when unless a cancel is recorded already (the first cancel's stands; it answers
 *   whether it was recorded, and the standing one's time) and changes neither state nor updatedAt;
 * - acquireSlice applies only when the slice exists and its lease ran out (leaseUntil < now), done or
 *   not (and, `neverTaken`, only when no instance ever took it), and leaves it not done (its counts unread) until the new holder finishes it; renewSlice and releaseSlice only while `owner` is the last one that took it (whatever its
 *   lease); releaseSlice and finishSlice set the lease to the epoch and keep the owner (the slice
 *   reads taken);
 * - recordItem and finishSlice are fenced by the slice lease they are given: once the clock is past
 *   its end they write nothing and answer false;
 * - takePaceToken counts per job and second and answers the count after its own token.
 *
 * Answers are copies. Calls go to the timeline as `jobs.<method>` (`jobs.recordItem(<status>)`,
 * `jobs.setState(<state>)`); `failNext(method, err)` makes one call throw (after being recorded).
 */
export class InMemoryBatchJobs implements BatchJobStore {
  private readonly rows = new Map<string, Row>()
  private readonly paceTokens = new Map<string, number>()
  private readonly failures = new FailureQueue<Method>()

  constructor(
    readonly timeline: Timeline = new Timeline(),
    private readonly clock: { now(): Date } = { now: () => new Date() },
  ) {}

  failNext(method: Method, error: unknown): this {
    this.failures.add(method, error)
    return this
  }

  private enter(method: Method, detail?: string): void {
    this.timeline.record('jobs', method, detail)
    this.failures.check(method)
  }

  private row(jobId: string): Row {
    const row = this.rows.get(jobId)
    // Cassandra would upsert a partial row here; a fake that answers loudly finds runner bugs sooner.
    if (!row) throw new Error(`no batch job ${jobId}`)
    return row
  }

  async create(job: BatchJob): Promise<BatchJob | undefined> {
    this.enter('create')
    const earlier = this.rows.get(job.id)
    // INSERT ... IF NOT EXISTS: not applied over a recorded job, whose row it answers.
    if (earlier) return structuredClone(earlier.job)
    this.record(job)
    return undefined
  }

  /** The job's row as Cassandra would read it back, not yet opened. */
  private record(job: BatchJob): void {
    const { mode, ...rest } = job
    const stored: BatchJob = {
      ...structuredClone(rest),
      // organisationids is a set<text> column; caller is stored as JSON text.
      organisationIds: [...new Set(job.organisationIds)].sort(),
      caller: JSON.parse(JSON.stringify(job.caller)),
      ...(mode && { mode }),
    }
    this.rows.set(job.id, { job: stored, open: false, slices: new Map(), items: new Map() })
  }

  async createWhole(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<void> {
    this.enter('createWhole')
    // The job and its listing in one go, after its slices and users: a call that fails (failNext)
    // leaves nothing a reader finds. Plain writes: a job under the id already is written over.
    this.record(job)
    this.openRow(job, items)
  }

  async open(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): Promise<void> {
    this.enter('open')
    this.openRow(job, items)
  }

  private openRow(job: BatchJob, items: readonly Pick<BatchItem, 'userId' | 'slice'>[]): void {
    const row = this.row(job.id)
    // Written as of the job's creation: whatever was written since stands.
    for (let slice = 0; slice < job.slices; slice++) if (!row.slices.has(slice)) row.slices.set(slice, { leaseUntil: EPOCH, done: false })
    for (const item of items) {
      const key = itemKey(item.slice, item.userId)
      if (!row.items.has(key)) row.items.set(key, { userId: item.userId, slice: item.slice, status: 'pending', attempts: 0 })
    }
    // Not for a job given as completed, nor one completed since (its unlisting is later than this listing).
    if (job.state !== 'completed' && row.job.state !== 'completed') row.open = true
  }

  async get(jobId: string): Promise<BatchJob | undefined> {
    this.enter('get')
    const row = this.rows.get(jobId)
    return row && structuredClone(row.job)
  }

  async items(jobId: string, slice: number): Promise<BatchItem[]> {
    this.enter('items')
    return this.itemsOf(jobId).filter((item) => item.slice === slice)
  }

  async itemsPage(jobId: string, offset: number, limit: number): Promise<BatchItem[]> {
    this.enter('itemsPage')
    if (limit <= 0) return []
    return this.itemsOf(jobId).slice(offset, offset + limit)
  }

  private itemsOf(jobId: string): BatchItem[] {
    const items = [...(this.rows.get(jobId)?.items.values() ?? [])]
    return items.sort(inSliceOrder).map((item) => structuredClone(item))
  }

  async recordItem(jobId: string, item: BatchItem, heldUntil: Date): Promise<boolean> {
    this.enter('recordItem', item.status)
    if (!this.holds(heldUntil)) return false
    const key = itemKey(item.slice, item.userId)
    const row = this.row(jobId)
    if (!row.items.has(key)) throw new Error(`no user ${item.userId} in slice ${item.slice} of batch job ${jobId}`)
    const { err, at, ...outcome } = structuredClone(item)
    row.items.set(key, { ...outcome, ...(err && { err }), ...(at && { at }) })
    return true
  }

  async setState(jobId: string, state: BatchJobState): Promise<void> {
    this.enter('setState', state)
    const { job } = this.row(jobId)
    job.state = state
    job.updatedAt = this.clock.now()
  }

  async cancel(jobId: string, cancellation: BatchCancellation): Promise<BatchCancelOutcome> {
    this.enter('cancel')
    const { job } = this.row(jobId)
    if (job.cancelled) return { recorded: false, at: new Date(job.cancelled.at) }
    job.cancelled = { at: new Date(cancellation.at), by: cancellation.by }
    return { recorded: true, at: new Date(cancellation.at) }
  }

  async listOpen(): Promise<string[]> {
    this.enter('listOpen')
    return [...this.rows.values()].filter((row) => row.open).map((row) => row.job.id)
  }

  async complete(jobId: string): Promise<void> {
    this.enter('complete')
    await this.setState(jobId, 'completed')
    this.row(jobId).open = false
  }

  async slices(jobId: string): Promise<BatchSliceState[]> {
    this.enter('slices')
    const slices = [...(this.rows.get(jobId)?.slices.entries() ?? [])].sort(([a], [b]) => a - b)
    return slices.map(([slice, state]) => ({
      slice,
      done: state.done,
      leaseUntil: new Date(state.leaseUntil),
      taken: state.owner !== undefined,
      ...(state.done && state.tally && { tally: structuredClone(state.tally) }),
    }))
  }

  async acquireSlice(jobId: string, slice: number, owner: string, now: Date, until: Date, neverTaken = false): Promise<boolean> {
    this.enter('acquireSlice')
    const state = this.rows.get(jobId)?.slices.get(slice)
    // UPDATE ... IF leaseuntil < now: not applied for a missing slice or a lease still running.
    if (!state || !(state.leaseUntil.getTime() < now.getTime())) return false
    // ... AND owner = null, for a slice read never taken.
    if (neverTaken && state.owner !== undefined) return false
    state.owner = owner
    state.leaseUntil = new Date(until)
    state.done = false
    return true
  }

  async renewSlice(jobId: string, slice: number, owner: string, until: Date): Promise<boolean> {
    this.enter('renewSlice')
    const state = this.rows.get(jobId)?.slices.get(slice)
    // UPDATE ... IF owner = ?: the lease itself is not looked at.
    if (!state || state.owner !== owner) return false
    state.leaseUntil = new Date(until)
    return true
  }

  async releaseSlice(jobId: string, slice: number, owner: string): Promise<void> {
    this.enter('releaseSlice')
    const state = this.slice(jobId, slice)
    // UPDATE ... IF owner = ?, as renewSlice.
    if (state.owner === owner) state.leaseUntil = EPOCH
  }

  async finishSlice(jobId: string, slice: number, tally: SliceTally, heldUntil: Date): Promise<boolean> {
    this.enter('finishSlice')
    if (!this.holds(heldUntil)) return false
    const state = this.slice(jobId, slice)
    state.done = true
    state.leaseUntil = EPOCH
    const { firstSettledAt, lastSettledAt } = tally
    state.tally = {
      succeeded: tally.succeeded,
      failed: { ...tally.failed },
      // Cassandra's int column reads 0 back as written: none spared reads as absent.
      ...(tally.cancelled && { cancelled: tally.cancelled }),
      ...(tally.owed && { owed: tally.owed }),
      ...(firstSettledAt && { firstSettledAt: new Date(firstSettledAt) }),
      ...(lastSettledAt && { lastSettledAt: new Date(lastSettledAt) }),
    }
    return true
  }

  /** A write fenced by a slice lease lands while the clock is before the lease's end (a fake's write lands at once). */
  private holds(heldUntil: Date): boolean {
    return this.clock.now().getTime() < heldUntil.getTime()
  }

  private slice(jobId: string, slice: number): Slice {
    const state = this.row(jobId).slices.get(slice)
    if (!state) throw new Error(`no slice ${slice} of batch job ${jobId}`)
    return state
  }

  async takePaceToken(jobId: string, second: number): Promise<number> {
    this.enter('takePaceToken')
    const key = `${jobId}/${second}`
    const taken = (this.paceTokens.get(key) ?? 0) + 1
    this.paceTokens.set(key, taken)
    return taken
  }
}
