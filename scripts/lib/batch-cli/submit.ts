import { randomUUID } from 'node:crypto'
import { IDEMPOTENCY_KEY_HEADER, REPLAY_TTL_SECONDS } from '../../../src/http/idempotency.js'
import { parseSunbirdTimestamp } from '../../../src/shared/sunbird-timestamp.js'
import { type Accepted, isAccepted, MAX_IDS_PER_JOB, SUBMIT_PATH } from './batch-api.js'
import { cancelsOfRun } from './cancels-of-run.js'
import type { Followed } from './follow.js'
import { exitOnInterrupt } from './interrupt.js'
import type { Options } from './options.js'
import type { SubmitOrder } from './own-id-last.js'
import { callRetrying, mayHaveRecorded } from './retry-rules.js'
import type { ServiceClient } from './service-call.js'
import { fail } from './terminal.js'

/** A job accepted: `acceptedAt` is when the service first recorded it (a replayed answer keeps the first one's time). */
type Submitted = Accepted & { replayed: boolean; acceptedAt: Date }

/** How far the submits got: what a give-up or an interrupt names. */
interface SubmitProgress {
  /** The jobs submitted, in order. */
  jobIds: string[]
  /** Where, among the file's ids, the job being submitted begins. */
  start: number
  /** A try of that job is out: whether it left, nobody can tell yet. */
  trying: boolean
  /** A try of that job may have reached the service (no answer after it left, a 5xx…): the job may be recorded. */
  reached: boolean
  /** When the service recorded the earliest job of the run: its key is the first the service stops answering again. */
  firstAcceptedAt?: Date
}

/**
 * The Idempotency-Key of the file's `jobNumber`th job: one per job, the same on every try, and
 * following from the run's key, so a run given that key (--idempotency-key) again sends each job
 * under the key it had: a job recorded already is answered again, not recorded twice.
 */
const jobKey = (runKey: string, jobNumber: number) => `${runKey}/${jobNumber}`

/**
 * Submits one job under its Idempotency-Key, trying again with the same key while the service does
 * not answer or answers a transient failure, until it has failed for `giveUpMs`; the job
 * (`replayed` when an earlier try had recorded it), or why it was not submitted.
 */
async function submitJob(service: ServiceClient, request: { userIds: string[]; mode?: Options['mode'] }, giveUpMs: number, key: string): Promise<Submitted | { problem: string }> {
  // The same key on every try: a try whose 202 was lost is answered again, not recorded twice.
  const call = await callRetrying(service, SUBMIT_PATH, request, giveUpMs, 'batch refused', { [IDEMPOTENCY_KEY_HEADER]: key })
  if ('problem' in call) return { problem: call.problem }
  const { answered } = call
  // Anything but a 202 with a job id (a web page, a proxy): a job may be recorded that this CLI cannot name, so it is not tried again.
  return answered.status === 202 && isAccepted(answered.body.result)
    ? { ...answered.body.result, replayed: answered.replayed, acceptedAt: parseSunbirdTimestamp(answered.body.ts) ?? new Date() }
    : { problem: `not a batch answer from ${service.base}${SUBMIT_PATH} (is --url the deletion service?)` }
}

/**
 * The service, as the submits see it: each try of the job under way is noted on `progress` (out,
 * then whether it may have reached the service), so a give-up or an interrupt can say whether that job may be recorded.
 */
function watching(service: ServiceClient, progress: SubmitProgress): ServiceClient {
  return {
    base: service.base,
    async call(...args) {
      progress.trying = true
      const answer = await service.call(...args)
      progress.trying = false
      progress.reached ||= mayHaveRecorded(answer)
      return answer
    },
  }
}

/**
 * Follows the jobs submitted until every one is settled (completed, or cancelled with its last users
 * settled): how they ended; `heldBack` says what is not submitted yet and how to submit it, for every way the follow ends early.
 */
export type SettleFirst = (jobIds: string[], heldBack: string) => Promise<Followed>

/** The jobs submitted, in order; `keptBack`: the last job was not submitted, as a job of the run was cancelled (how the others ended, and the lines saying so). */
export interface SubmitRun {
  jobIds: string[]
  keptBack?: { followed: Followed; why: string }
}

/**
 * Submits the file as jobs of at most MAX_IDS_PER_JOB, one after another, in `order`.
 * Each job's Idempotency-Key follows from `idempotencyKey` (the key a run stopped part way printed),
 * else from a key made for this run. The last job of an order holding the caller's own id back
 * (ownIdLast) is sent only once `settleFirst` has seen every other job settled: the deletion of that
 * account, its last act, locks the caller out, and jobs still running could no longer be followed.
 * It is not sent at all when a job of the run was cancelled meanwhile (cancelsOfRun): a cancel means stop.
 */
export async function submitAll(service: ServiceClient, order: SubmitOrder, options: Pick<Options, 'mode' | 'giveUpMs' | 'idempotencyKey'>, settleFirst: SettleFirst): Promise<SubmitRun> {
  const runKey = options.idempotencyKey ?? randomUUID()
  const progress: SubmitProgress = { jobIds: [], start: 0, trying: false, reached: false }
  // Jobs an earlier run recorded under the --idempotency-key given: a cancel it was stopped by does not stop this run.
  const recordedEarlier = new Set<string>()
  exitOnInterrupt(() => standing(progress, order, runKey))
  const watched = watching(service, progress)
  for (let start = 0; start < order.ids.length; start += MAX_IDS_PER_JOB) {
    progress.start = start
    progress.reached = false
    const last = start + MAX_IDS_PER_JOB >= order.ids.length
    if (last && order.ownLine !== undefined) {
      console.log(
        `your own id (line ${order.ownLine} of ${order.path}) goes in the last job, submitted once job(s) ${progress.jobIds.join(',')} are settled: deleting your account locks you out of following any job still running`,
      )
      const followed = await settleFirst(progress.jobIds, unsent(progress, order, runKey).join('\n'))
      const cancels = cancelsOfRun(followed, recordedEarlier)
      if (cancels.stopping.length > 0) return { jobIds: progress.jobIds, keptBack: { followed, why: keptBack(cancels.stopping, order, start, runKey, progress.firstAcceptedAt) } }
      if (cancels.before.length > 0)
        console.log(`${jobsText(cancels.before)} cancelled before this run: the last job, with your own id, is submitted all the same, as this run again under --idempotency-key asks`)
      exitOnInterrupt(() => standing(progress, order, runKey))
    }
    const request = { userIds: order.ids.slice(start, start + MAX_IDS_PER_JOB), ...(options.mode && { mode: options.mode }) }
    const job = await submitJob(watched, request, options.giveUpMs, jobKey(runKey, progress.jobIds.length + 1))
    if ('problem' in job) {
      const recorded = progress.reached ? '; the service may still have recorded that job' : ''
      fail(`${job.problem}${recorded}\n${standing(progress, order, runKey)}`)
    }
    progress.jobIds.push(job.jobId)
    if (progress.firstAcceptedAt === undefined || job.acceptedAt < progress.firstAcceptedAt) progress.firstAcceptedAt = job.acceptedAt
    if (job.replayed && options.idempotencyKey) recordedEarlier.add(job.jobId)
    // Said at once, so a follow cut short can be resumed with --job.
    const earlier = options.idempotencyKey ? 'recorded already under this --idempotency-key' : 'recorded by an earlier try whose answer was lost'
    console.log(`submitted job ${job.jobId} (${job.total} ids${job.replayed ? `, ${earlier}` : ''}); follow again with --job ${job.jobId}`)
  }
  return { jobIds: progress.jobIds }
}

/**
 * Until when a run again under the key finds the run's jobs recorded: the service answers a job's
 * Idempotency-Key again for REPLAY_TTL_SECONDS from when it recorded it, so from the earliest job's
 * time, less an hour for the clocks of the service, Cassandra and this machine to differ. Past it,
 * the run again would take a cancelled job as new.
 */
const RERUN_CLOCK_MARGIN_MS = 60 * 60 * 1000
const rerunDeadline = (firstAcceptedAt: Date) => new Date(firstAcceptedAt.getTime() + REPLAY_TTL_SECONDS * 1000 - RERUN_CLOCK_MARGIN_MS)

const jobsText = (jobIds: string[]) => (jobIds.length === 1 ? `job ${jobIds[0]} was` : `jobs ${jobIds.join(',')} were`)

/**
 * What a run says when a cancel kept its last job (from `start` in `order`, with the caller's own id)
 * back: which job was cancelled, that the last was not submitted, how to submit it all the same
 * (a run again under its key: cancelsOfRun lets that one through), and the lines of its ids.
 */
function keptBack(cancelled: string[], order: SubmitOrder, start: number, runKey: string, firstAcceptedAt = new Date()): string {
  const total = order.ids.length
  return [
    `${jobsText(cancelled)} cancelled, and a cancel means stop: the last job, with your own id, was not submitted; to submit it all the same, run the same command again with --idempotency-key ${runKey} before ${rerunDeadline(firstAcceptedAt).toISOString()} (the service answers the run's jobs' keys again until a day after it recorded the first; later, it would take the cancelled job as new and delete the users its cancel spared)`,
    `${total - start} of ${total} ids were not submitted: ${whichIds(order, start, total)}`,
  ].join('\n')
}

/**
 * Where the submits stand, as a give-up or an interrupt says it: the jobs submitted (they go on),
 * then what unsent says.
 */
function standing(progress: SubmitProgress, order: SubmitOrder, runKey: string): string {
  const { jobIds } = progress
  const lines: string[] = []
  if (jobIds.length > 0) lines.push(`${jobIds.length} job(s) were submitted and go on: follow them with --job ${jobIds.join(',')}`)
  else if (!mayBeRecorded(progress)) lines.push('nothing was submitted')
  return [...lines, ...unsent(progress, order, runKey)].join('\n')
}

const mayBeRecorded = (progress: SubmitProgress) => progress.trying || progress.reached

/**
 * The ids whose job may be recorded, those never sent, and how to send the rest without recording
 * any job twice (a plain run again would record the jobs already submitted, or the one that may be, a second time).
 */
function unsent(progress: SubmitProgress, order: SubmitOrder, runKey: string): string[] {
  const { jobIds, start } = progress
  const total = order.ids.length
  // The ids of the job that may be recorded end here; the rest were never sent.
  const unsentFrom = mayBeRecorded(progress) ? Math.min(start + MAX_IDS_PER_JOB, total) : start
  const lines: string[] = []
  if (mayBeRecorded(progress)) lines.push(`${unsentFrom - start} of ${total} ids may or may not have been submitted: ${whichIds(order, start, unsentFrom)}`)
  if (unsentFrom < total) lines.push(`${total - unsentFrom} of ${total} ids were not submitted: ${whichIds(order, unsentFrom, total)}`)
  if (jobIds.length > 0 || mayBeRecorded(progress))
    lines.push(`to submit them safely, run the same command again with --idempotency-key ${runKey}: a job recorded already under that key is answered again, not recorded twice`)
  return lines
}

/**
 * The lines of the file the ids from `from` to `to` (in `order`) are on: a run of lines, to its end
 * when `to` is the order's; the caller's own id, held back from its place (ownIdLast), named apart,
 * and named as not among a run of lines of an earlier job that spans its line.
 */
function whichIds(order: SubmitOrder, from: number, to: number): string {
  const { lines, path, ownLine } = order
  const ownHere = ownLine !== undefined && to === order.ids.length
  const othersTo = ownHere ? to - 1 : to
  const others =
    othersTo === from ? undefined : to < order.ids.length ? `the ones from line ${lines[from]} to line ${lines[othersTo - 1]} of ${path}` : `the ones from line ${lines[from]} of ${path} on`
  if (!ownHere) {
    const spansOwn = others !== undefined && ownLine !== undefined && ownLine > (lines[from] ?? 0) && ownLine < (lines[othersTo - 1] ?? 0)
    return spansOwn ? `${others}, except your own id, on line ${ownLine} (held back for the last job)` : (others ?? '')
  }
  return others ? `${others}, and your own id, on line ${ownLine}` : `your own id, on line ${ownLine} of ${path}`
}
