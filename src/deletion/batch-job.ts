import { createHash } from 'node:crypto'
import type { Caller } from './caller.js'
import { ORG_ADMIN } from './deletion-policy.js'
import { BatchJobNotFoundError, NotPermittedError } from './errors.js'
import type { BatchItem, BatchItemStatus, BatchJob, BatchJobState, BatchJobStore, Clock } from './ports.js'

/** At most this many ids per job (the schema says so first). */
export const MAX_BATCH_IDS = 1000

export interface SubmitBatchInput {
  jobId: string
  caller: Caller
  /** Already reduced from f:<provider>:<id> to <id>. */
  userIds: readonly string[]
  mode?: 'soft' | 'hard'
}

/** The deletion request of one user of a job: the same id on every try, so a resumed job never opens a second request for a user. */
export function batchRequestId(jobId: string, userId: string): string {
  return `batch-${createHash('sha256').update(`${jobId}\n${userId}`).digest('hex').slice(0, 32)}`
}

/**
 * Records a batch job: each distinct id once, in slices of `sliceSize` (the unit an instance
 * leases). Nothing is deleted here; every instance's runner works the job (batch-runner.ts), each
 * id authorised and checked as a single delete by the same caller would be.
 */
export async function submitBatch(deps: { jobs: BatchJobStore; clock: Clock; sliceSize: number }, input: SubmitBatchInput): Promise<{ jobId: string; total: number }> {
  const userIds = [...new Set(input.userIds)]
  const now = deps.clock.now()
  const slices = Math.ceil(userIds.length / deps.sliceSize)
  const job: BatchJob = {
    id: input.jobId,
    createdBy: input.caller.userId,
    organisationIds: [...new Set(input.caller.roles.flatMap((role) => role.organisationIds))],
    // Ids and roles only: the verified caller each deletion runs as.
    caller: { consumer: input.caller.consumer, userId: input.caller.userId, roles: input.caller.roles },
    ...(input.mode && { mode: input.mode }),
    total: userIds.length,
    slices,
    state: 'running',
    createdAt: now,
    updatedAt: now,
  }
  await deps.jobs.create(
    job,
    userIds.map((userId, index) => ({ userId, slice: Math.floor(index / deps.sliceSize) })),
  )
  return { jobId: job.id, total: job.total }
}

export interface BatchStatus {
  jobId: string
  state: BatchJobState
  total: number
  done: number
  succeeded: number
  failed: Record<string, number>
  progress: number
  ratePerSecond: number
  etaSeconds: number | null
  outcomes: { userId: string; status: BatchItemStatus; err?: string }[]
}

/** Deletions settled in this window give the rate; a shorter job's whole life does. */
const RATE_WINDOW_MS = 60_000

/** The job's creator, or an ORG_ADMIN of one of the creator's organisations. */
function mayFollow(caller: Caller, job: BatchJob): boolean {
  if (caller.userId === job.createdBy) return true
  const jobOrgs = new Set(job.organisationIds)
  return caller.roles.some((role) => role.role === ORG_ADMIN && role.organisationIds.some((id) => jobOrgs.has(id)))
}

/** Where a job stands, with one page (`offset`, `limit`) of its per-user outcomes. */
export async function readBatchStatus(deps: { jobs: BatchJobStore; clock: Clock }, input: { caller: Caller; jobId: string; offset: number; limit: number }): Promise<BatchStatus> {
  const job = await deps.jobs.get(input.jobId)
  if (!job) throw new BatchJobNotFoundError()
  if (!mayFollow(input.caller, job)) throw new NotPermittedError('not the creator of the job or an ORG_ADMIN of its organisation')
  const items = await deps.jobs.items(job.id)
  const failed: Record<string, number> = {}
  let succeeded = 0
  for (const item of items) {
    if (item.status === 'deleted') succeeded++
    if (item.status === 'failed') failed[item.err ?? 'UNKNOWN'] = (failed[item.err ?? 'UNKNOWN'] ?? 0) + 1
  }
  const done = items.filter((item) => item.status !== 'pending').length
  const now = deps.clock.now().getTime()
  const windowMs = Math.max(1000, Math.min(RATE_WINDOW_MS, now - job.createdAt.getTime()))
  const recent = items.filter((item) => item.status !== 'pending' && item.at && now - item.at.getTime() <= windowMs).length
  const ratePerSecond = Math.round((recent / (windowMs / 1000)) * 100) / 100
  const remaining = job.total - done
  return {
    jobId: job.id,
    state: job.state,
    total: job.total,
    done,
    succeeded,
    failed,
    progress: job.total === 0 ? 100 : Math.floor((done / job.total) * 100),
    ratePerSecond,
    etaSeconds: remaining === 0 ? 0 : ratePerSecond > 0 ? Math.ceil(remaining / ratePerSecond) : null,
    outcomes: items.slice(input.offset, input.offset + input.limit).map(outcomeOf),
  }
}

function outcomeOf(item: BatchItem): BatchStatus['outcomes'][number] {
  return { userId: item.userId, status: item.status, ...(item.status === 'failed' && item.err && { err: item.err }) }
}
