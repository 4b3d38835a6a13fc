import { createHash, randomUUID } from 'node:crypto'
import type { Caller } from './caller.js'
import { answerByDeadline, type CommitGate, type DeadlineOptions } from './commit-gate.js'
import { ORG_ADMIN } from './deletion-policy.js'
import { BatchJobIdTakenError, BatchJobNotFoundError, NotPermittedError } from './errors.js'
import { nameBasedUuid } from './name-based-uuid.js'
import type { BatchItem, BatchItemStatus, BatchJob, BatchJobState, BatchJobStore, Clock, SliceTally } from './ports.js'

/** A job as the status route names it: its stored state, or `cancelled` once a cancel spared some of its users. */
export type BatchJobView = BatchJobState | 'cancelled'

/** At most this many ids per job (the schema says so first). */
export const MAX_BATCH_IDS = 1000

export interface SubmitBatchInput {
  /** batchJobId: random, or following from the submit's Idempotency-Key. */
  jobId: string
  /**
   * Whether the id follows from an Idempotency-Key, so that a retry of this submit names the job too.
   * False for a random id (no key): the job is recorded whole in one go, and a submit that fails part
   * way leaves none (see submitBatch). Absent: as keyed, which is safe for any id.
   */
  keyed?: boolean
  caller: Caller
  /** Already reduced from f:<provider>:<id> to <id>. */
  userIds: readonly string[]
  mode?: 'soft' | 'hard'
}

/** The caller's deadline (see answerByDeadline): before the job's first visible write, a passed one answers "retry" and nothing is recorded. */
export interface BatchDeadline {
  answerBy?: Date
  onCommit?: DeadlineOptions['onCommit']
}

/**
 * Runs a job's write against the caller's deadline: `gate.enter()` just before the write that makes
 * the job (or its cancel) exist, `gate.decided()` once it is done. A deadline passing before the
 * write is "retry" (503) and the write never happens; after it, the answer is the write's own
 * outcome, however late (untilOutcome): nothing carries a batch write on after its caller, so no
 * success is answered before it is done. A write that fails answers its 503 as any other (one whose
 * answer was lost may have landed).
 */
function withDeadline<T>(deadline: BatchDeadline, accepted: () => T, run: (gate?: CommitGate) => Promise<T>): Promise<T> {
  return deadline.answerBy ? answerByDeadline(deadline.answerBy, accepted, run, { onCommit: deadline.onCommit, untilOutcome: true }) : run()
}

/** An Idempotency-Key as its owner sent it: the caller it belongs to, and the key's hash. */
export interface SubmitKey {
  owner: string
  keyHash: string
}

/** Namespace of the job ids that follow from Idempotency-Keys (a fixed, random UUID of this product's own). */
const JOB_ID_NAMESPACE = Buffer.from('2ae09f7c8de746358262e3abf9784543', 'hex')

/**
 * The id of a submitted job. With an Idempotency-Key it follows from the key and its owner (a UUID
 * v5), so a submit retried with the key, after one that failed part way or whose answer was lost,
 * meets the job that one recorded instead of recording a second; without one, a random UUID.
 */
export function batchJobId(key?: SubmitKey): string {
  return key ? nameBasedUuid(JOB_ID_NAMESPACE, `${key.owner}\n${key.keyHash}`) : randomUUID()
}

/** The deletion request of one user of a job: the same id on every try, so a resumed job never opens a second request for a user. */
export function batchRequestId(jobId: string, userId: string): string {
  return `batch-${createHash('sha256').update(`${jobId}\n${userId}`).digest('hex').slice(0, 32)}`
}

const BATCH_REQUEST_ID = /^batch-[0-9a-f]{32}$/

/** Whether an id has the shape batchRequestId gives: such ids are the batch runner's to name (see openRequest). */
export const isBatchRequestId = (id: string): boolean => BATCH_REQUEST_ID.test(id)

/**
 * Users per slice: at most `sliceSize`, and few enough that a job of at least `minSlices` users has
 * `minSlices` slices. A slice's users are deleted one after another, so a small job cut into slices
 * of the full size would be worked by one or two runners while the others idle.
 */
export function usersPerSlice(total: number, sliceSize: number, minSlices: number): number {
  const size = Math.max(1, Math.min(sliceSize, Math.ceil(total / minSlices)))
  // The smallest size that gives as many slices: it follows from total and slice count alone, so two
  // submits of one job on instances of different settings (a retried Idempotency-Key) that agree on
  // the count cut the users alike, and no user is written into two slices (see slicedAs).
  const slices = Math.ceil(total / size)
  return Math.max(1, Math.ceil(total / Math.max(1, slices)))
}

type SlicedUser = Pick<BatchItem, 'userId' | 'slice'>

const sliced = (userIds: readonly string[], perSlice: number): SlicedUser[] => userIds.map((userId, index) => ({ userId, slice: Math.floor(index / perSlice) }))

/**
 * Records a batch job: each distinct id once, in slices (the unit an instance leases) of
 * usersPerSlice. Nothing is deleted here; every instance's runner works the job (batch-runner.ts),
 * each id authorised and checked as a single delete by the same caller would be. `minSlices` is
 * how many slices an instance works at once (BATCH_CONCURRENCY); absent: slices of `sliceSize`.
 *
 * A job recorded under the id already is this submit's when a submit with the same Idempotency-Key
 * recorded it (a retry after a 503, a crash or a lost answer): it is completed, not recorded again,
 * and answered as the first would have been (see resume).
 *
 * Without a key nothing can complete the job later: its client, answered 503, never learns its id.
 * So it is written in an order that keeps it unseen until whole (BatchJobStore.createWhole): its
 * slices and users, then the job and its listing together. A submit that fails part way leaves no
 * job that the status route shows or a runner works, none that could pass for one still running.
 * This costs the unkeyed submit nothing: no compare-and-set, and one write after the rows instead of two.
 */
export function submitBatch(deps: { jobs: BatchJobStore; clock: Clock; sliceSize: number; minSlices?: number }, input: SubmitBatchInput & BatchDeadline): Promise<{ jobId: string; total: number }> {
  const accepted = { jobId: input.jobId, total: new Set(input.userIds).size }
  return withDeadline(
    input,
    () => accepted,
    (gate) => submitOnce(deps, input, gate),
  )
}

async function submitOnce(deps: { jobs: BatchJobStore; clock: Clock; sliceSize: number; minSlices?: number }, input: SubmitBatchInput, gate?: CommitGate): Promise<{ jobId: string; total: number }> {
  const userIds = [...new Set(input.userIds)]
  const now = deps.clock.now()
  const perSlice = usersPerSlice(userIds.length, deps.sliceSize, deps.minSlices ?? 1)
  const job: BatchJob = {
    id: input.jobId,
    createdBy: input.caller.userId,
    // The organisations the creator administers, not every one a role of theirs is scoped to: an
    // ORG_ADMIN of an organisation where the creator is only, say, a content creator must not follow
    // or cancel a job deleting another organisation's users.
    organisationIds: [...new Set(input.caller.roles.filter((role) => role.role === ORG_ADMIN).flatMap((role) => role.organisationIds))],
    // Ids and roles only: the verified caller each deletion runs as (a trusted consumer keeps its trust).
    caller: {
      consumer: input.caller.consumer,
      userId: input.caller.userId,
      roles: input.caller.roles,
      // A parent acting for their managed child (X-Authenticated-For) may delete that child, as in a single delete.
      ...(input.caller.managedUser && { managedUser: input.caller.managedUser }),
      ...(input.caller.deleteAnyUser && { deleteAnyUser: true }),
    },
    ...(input.mode && { mode: input.mode }),
    total: userIds.length,
    slices: Math.ceil(userIds.length / perSlice),
    state: 'running',
    createdAt: now,
    updatedAt: now,
  }
  gate?.enter()
  if (input.keyed === false) {
    await deps.jobs.createWhole(job, sliced(userIds, perSlice))
  } else {
    const earlier = await deps.jobs.create(job)
    if (earlier) {
      const resumed = await resume(deps.jobs, earlier, job, userIds, perSlice)
      gate?.decided()
      return resumed
    }
    await deps.jobs.open(job, sliced(userIds, perSlice))
  }
  gate?.decided()
  return { jobId: job.id, total: job.total }
}

/**
 * The job an earlier submit recorded under the id. When it is this submit's (the same creator,
 * consumer, mode and ids), what that submit left unwritten (users, slices, the open listing) is
 * written now, as it recorded them: the users it wrote stay in their slices, and none worked since
 * is reset (BatchJobStore.open); a completed job is only answered. Any other job, whose users must
 * not be mixed with these: BatchJobIdTakenError, and nothing is written.
 */
async function resume(jobs: BatchJobStore, earlier: BatchJob, job: BatchJob, userIds: readonly string[], perSlice: number): Promise<{ jobId: string; total: number }> {
  const same = earlier.createdBy === job.createdBy && earlier.caller.consumer === job.caller.consumer && earlier.mode === job.mode && earlier.total === job.total
  if (!same) throw new BatchJobIdTakenError()
  const written = await jobs.itemsPage(earlier.id, 0, earlier.total)
  const users = slicedAs(userIds, earlier.slices, written, perSlice)
  if (!users) throw new BatchJobIdTakenError()
  if (earlier.state !== 'completed') {
    const present = new Set(written.map((item) => item.userId))
    await jobs.open(
      earlier,
      users.filter((user) => !present.has(user.userId)),
    )
  }
  return { jobId: earlier.id, total: earlier.total }
}

/**
 * The ids cut into slices as the job recorded them: `slices` slices, and each user written before in
 * the slice it was written in. The slice size of this instance's settings first; another (settings
 * changed between the two submits) when only that one fits. Undefined when a user written before is
 * not among the ids, or no size fits: the job is another submit's.
 */
function slicedAs(userIds: readonly string[], slices: number, written: readonly SlicedUser[], perSlice: number): SlicedUser[] | undefined {
  const index = new Map(userIds.map((userId, at) => [userId, at]))
  if (written.some((item) => !index.has(item.userId))) return undefined
  const fits = (size: number) => Math.ceil(userIds.length / size) === slices && written.every((item) => Math.floor((index.get(item.userId) as number) / size) === item.slice)
  if (fits(perSlice)) return sliced(userIds, perSlice)
  for (let size = 1; size <= userIds.length; size++) if (fits(size)) return sliced(userIds, size)
  return undefined
}

export interface BatchStatus {
  jobId: string
  state: BatchJobView
  total: number
  done: number
  succeeded: number
  failed: Record<string, number>
  /** Only for a cancelled job: its users the cancel spared so far. */
  cancelled?: number
  /** Only when some: users deleted (counted in `succeeded`) whose deletion still owed steps when the job settled them. */
  owed?: number
  progress: number
  ratePerSecond: number
  etaSeconds: number | null
  /** `owed` and `requestId` only for a deleted user whose deletion still owed steps when settled: the request to follow. */
  outcomes: { userId: string; status: BatchItemStatus; err?: string; owed?: true; requestId?: string }[]
}

/** Deletions settled in this window give a running job's rate; a shorter job's whole life does. */
const RATE_WINDOW_MS = 60_000

/** Per second, to two decimals. */
const perSecond = (count: number, ms: number) => Math.round((count / (Math.max(1000, ms) / 1000)) * 100) / 100

/** The job's creator, or an ORG_ADMIN of one of the creator's organisations. */
function mayFollow(caller: Caller, job: BatchJob): boolean {
  if (caller.userId === job.createdBy) return true
  const jobOrgs = new Set(job.organisationIds)
  return caller.roles.some((role) => role.role === ORG_ADMIN && role.organisationIds.some((id) => jobOrgs.has(id)))
}

/** Whether deletion work settled the user (deleted or failed): those a cancel spared are settled by none. */
const worked = (item: BatchItem) => item.status === 'deleted' || item.status === 'failed'

/**
 * The one count of settled users: deleted ones succeeded, failed ones by code, those a cancel spared
 * apart; pending ones are not counted. The settle times are of the users deletion work settled only:
 * they span the rate, which a cancel's spare, settled at once and later, would stretch.
 */
export function tally(items: readonly BatchItem[]): SliceTally {
  const counted: SliceTally = { succeeded: 0, failed: {} }
  for (const item of items) {
    if (item.status === 'pending') continue
    if (item.status === 'deleted') {
      counted.succeeded++
      if (item.owed) counted.owed = (counted.owed ?? 0) + 1
    } else if (item.status === 'cancelled') counted.cancelled = (counted.cancelled ?? 0) + 1
    else counted.failed[item.err ?? 'UNKNOWN'] = (counted.failed[item.err ?? 'UNKNOWN'] ?? 0) + 1
    if (!worked(item) || !item.at) continue
    if (!counted.firstSettledAt || item.at < counted.firstSettledAt) counted.firstSettledAt = item.at
    if (!counted.lastSettledAt || item.at > counted.lastSettledAt) counted.lastSettledAt = item.at
  }
  return counted
}

/** Users settled by deletion work: deleted or failed. Those a cancel spared are settled by none, so no rate counts them. */
const workedCount = (counted: SliceTally) => counted.succeeded + Object.values(counted.failed).reduce((sum, n) => sum + n, 0)

const settledCount = (counted: SliceTally) => workedCount(counted) + (counted.cancelled ?? 0)

/**
 * How many of a tally's users deletion work settled since `from`: the users of a slice are settled
 * one after another, so evenly over its first to last settlement is close enough for a rate.
 */
function workedSince(counted: SliceTally, from: number): number {
  const count = workedCount(counted)
  const first = counted.firstSettledAt?.getTime()
  const last = counted.lastSettledAt?.getTime()
  if (first === undefined || last === undefined || last < from) return 0
  if (first >= from || last === first) return count
  return Math.round((count * (last - from)) / (last - first))
}

/**
 * Where a job stands, with one page (`offset`, `limit`) of its per-user outcomes. A done slice
 * answers with its counts; only the users of slices being worked are read, so a poll costs the
 * cluster the job's slices, not its users.
 */
export async function readBatchStatus(deps: { jobs: BatchJobStore; clock: Clock }, input: { caller: Caller; jobId: string; offset: number; limit: number }): Promise<BatchStatus> {
  return statusOf(deps, await followedJob(deps.jobs, input), input)
}

/** The job, for a caller who may follow it. */
async function followedJob(jobs: BatchJobStore, input: { caller: Caller; jobId: string }): Promise<BatchJob> {
  const job = await jobs.get(input.jobId)
  if (!job) throw new BatchJobNotFoundError()
  if (!mayFollow(input.caller, job)) throw new NotPermittedError('not the creator of the job or an ORG_ADMIN of its organisation')
  return job
}

async function statusOf(deps: { jobs: BatchJobStore; clock: Clock }, job: BatchJob, input: { offset: number; limit: number }): Promise<BatchStatus> {
  const now = deps.clock.now().getTime()
  const windowMs = Math.max(1000, Math.min(RATE_WINDOW_MS, now - job.createdAt.getTime()))
  const slices = await deps.jobs.slices(job.id)
  // Untaken slices have only pending users; the others without counts are read user by user.
  const unTallied = slices.filter((slice) => !slice.tally && (slice.taken || slice.done))
  const [page, ...read] = await Promise.all([deps.jobs.itemsPage(job.id, input.offset, input.limit), ...unTallied.map((slice) => deps.jobs.items(job.id, slice.slice))])
  const from = now - windowMs
  const failed: Record<string, number> = {}
  let succeeded = 0
  let cancelled = 0
  let owed = 0
  let done = 0
  let workedDone = 0
  let recent = 0
  let lastSettledAt = job.createdAt.getTime()
  const add = (counted: SliceTally, workedInWindow: number) => {
    succeeded += counted.succeeded
    cancelled += counted.cancelled ?? 0
    owed += counted.owed ?? 0
    for (const [code, n] of Object.entries(counted.failed)) failed[code] = (failed[code] ?? 0) + n
    done += settledCount(counted)
    workedDone += workedCount(counted)
    recent += workedInWindow
    lastSettledAt = Math.max(lastSettledAt, counted.lastSettledAt?.getTime() ?? 0)
  }
  for (const slice of slices) if (slice.tally) add(slice.tally, workedSince(slice.tally, from))
  for (const items of read) add(tally(items), items.filter((item) => worked(item) && item.at && item.at.getTime() >= from).length)
  const remaining = job.total - done
  // The rate is of deletion work: users a cancel spared, settled at once by none, would make it jump.
  // A job with nobody left to settle is measured from its creation to its last deletion work (not to a
  // cancel's spare), so its rate stays what it achieved instead of falling to 0 once its last window has passed.
  const ratePerSecond = remaining === 0 ? perSecond(workedDone, lastSettledAt - job.createdAt.getTime()) : perSecond(recent, windowMs)
  return {
    jobId: job.id,
    state: viewOf(job, remaining, cancelled),
    total: job.total,
    done,
    succeeded,
    failed,
    ...(job.cancelled && { cancelled }),
    // Only when some: a job whose deletions all completed answers as it always did.
    ...(owed > 0 && { owed }),
    progress: job.total === 0 ? 100 : Math.floor((done / job.total) * 100),
    ratePerSecond,
    // A cancelled job's last users are settled as fast as the runners reach them: no rate foretells it.
    etaSeconds: remaining === 0 ? 0 : ratePerSecond > 0 && !job.cancelled ? Math.ceil(remaining / ratePerSecond) : null,
    outcomes: (page ?? []).map((item) => outcomeOf(job.id, item)),
  }
}

/**
 * The job's state as the status route names it. Nobody left to settle is completed, whatever the
 * stored state says: the runner's own write of it may be still to come, and a breaker's change
 * (paused, running) written late may overwrite it. A cancelled job reads cancelled from the cancel
 * on, unless it spared nobody (every user was settled before the runners saw it).
 */
function viewOf(job: BatchJob, remaining: number, cancelled: number): BatchJobView {
  if (job.cancelled && (remaining > 0 || cancelled > 0)) return 'cancelled'
  return remaining === 0 ? 'completed' : job.state
}

/**
 * What a cancel answers: the job's state as the status route then reads it and, for a cancelled
 * job, whether this call recorded its cancel (`alreadyCancelled` false) or an earlier one had, and
 * when the one that stands was recorded.
 */
export type BatchCancelAnswer = { jobId: string; state: 'completed' } | { jobId: string; state: 'cancelled'; alreadyCancelled: boolean; cancelledAt: Date }

/**
 * Cancels a job for its creator or an ORG_ADMIN of its organisation (as readBatchStatus admits
 * them): no deletion of its users begins once the runners see it (within about a second). A
 * deletion already under way is finished, as the sweeper would finish it; every other user still
 * pending is recorded `cancelled`, and keeps their account. A job with nobody left to settle is
 * completed, and stays so; a job read cancelled already is not written again. Of cancels at once,
 * the store's compare-and-set records exactly one: only its caller is answered `alreadyCancelled` false.
 */
export function cancelBatch(deps: CancelDeps, input: { caller: Caller; jobId: string } & BatchDeadline): Promise<BatchCancelAnswer> {
  // Set as the cancel is decided: a deadline passing after that answers what was decided.
  let decided: BatchCancelAnswer | undefined
  return withDeadline(
    input,
    () => decided as BatchCancelAnswer,
    (gate) =>
      cancelOnce(deps, input, gate, (answer) => {
        decided = answer
      }),
  )
}

interface CancelDeps {
  jobs: BatchJobStore
  clock: Clock
  /** Told once the job's cancel is known recorded (by this call or an earlier one), so this instance's runner stops at once. */
  cancelRecorded?: (jobId: string) => void
}

async function cancelOnce(deps: CancelDeps, input: { caller: Caller; jobId: string }, gate: CommitGate | undefined, decide: (answer: BatchCancelAnswer) => void): Promise<BatchCancelAnswer> {
  const job = await followedJob(deps.jobs, input)
  // No page of outcomes: limit 0 reads none.
  const before = await statusOf(deps, job, { offset: 0, limit: 0 })
  if (before.state === 'completed') return { jobId: job.id, state: 'completed' }
  let answer: BatchCancelAnswer
  if (job.cancelled) {
    answer = { jobId: job.id, state: 'cancelled', alreadyCancelled: true, cancelledAt: job.cancelled.at }
  } else {
    gate?.enter()
    const outcome = await deps.jobs.cancel(job.id, { at: deps.clock.now(), by: input.caller.userId })
    answer = { jobId: job.id, state: 'cancelled', alreadyCancelled: !outcome.recorded, cancelledAt: outcome.at }
    decide(answer)
    gate?.decided()
  }
  deps.cancelRecorded?.(job.id)
  return answer
}

function outcomeOf(jobId: string, item: BatchItem): BatchStatus['outcomes'][number] {
  const owed = item.status === 'deleted' && item.owed === true
  return {
    userId: item.userId,
    status: item.status,
    ...(item.status === 'failed' && item.err && { err: item.err }),
    // The deletion request to follow (/delete/status) until its owed steps are done: named from job and user, nothing more is stored.
    ...(owed && { owed: true as const, requestId: batchRequestId(jobId, item.userId) }),
  }
}
