import { randomUUID } from 'node:crypto'
import { IDEMPOTENCY_KEY_HEADER } from '../../../src/http/idempotency.js'
import { type Accepted, isAccepted, MAX_IDS_PER_JOB, SUBMIT_PATH } from './batch-api.js'
import type { IdsFile } from './ids-file.js'
import { exitOnInterrupt } from './interrupt.js'
import type { Options } from './options.js'
import { callRetrying, mayHaveRecorded } from './retry-rules.js'
import type { ServiceClient } from './service-call.js'
import { fail } from './terminal.js'

type Submitted = Accepted & { replayed: boolean }

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
    ? { ...answered.body.result, replayed: answered.replayed }
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
 * Submits the file as jobs of at most MAX_IDS_PER_JOB, one after another; their ids. Each job's
 * Idempotency-Key follows from `idempotencyKey` (the key a run stopped part way printed), else
 * from a key made for this run.
 */
export async function submitAll(service: ServiceClient, file: IdsFile, options: Pick<Options, 'mode' | 'giveUpMs' | 'idempotencyKey'>): Promise<string[]> {
  const runKey = options.idempotencyKey ?? randomUUID()
  const progress: SubmitProgress = { jobIds: [], start: 0, trying: false, reached: false }
  exitOnInterrupt(() => standing(progress, file, runKey))
  const watched = watching(service, progress)
  for (let start = 0; start < file.ids.length; start += MAX_IDS_PER_JOB) {
    progress.start = start
    progress.reached = false
    const request = { userIds: file.ids.slice(start, start + MAX_IDS_PER_JOB), ...(options.mode && { mode: options.mode }) }
    const job = await submitJob(watched, request, options.giveUpMs, jobKey(runKey, progress.jobIds.length + 1))
    if ('problem' in job) {
      const recorded = progress.reached ? '; the service may still have recorded that job' : ''
      fail(`${job.problem}${recorded}\n${standing(progress, file, runKey)}`)
    }
    progress.jobIds.push(job.jobId)
    // Said at once, so a follow cut short can be resumed with --job.
    const earlier = options.idempotencyKey ? 'recorded already under this --idempotency-key' : 'recorded by an earlier try whose answer was lost'
    console.log(`submitted job ${job.jobId} (${job.total} ids${job.replayed ? `, ${earlier}` : ''}); follow again with --job ${job.jobId}`)
  }
  return progress.jobIds
}

/**
 * Where the submits stand, as a give-up or an interrupt says it: the jobs submitted (they go on),
 * the ids whose job may be recorded, those never sent, and how to send the rest without recording
 * any job twice (a plain run again would record the jobs already submitted, or the one that may be, a second time).
 */
function standing(progress: SubmitProgress, file: IdsFile, runKey: string): string {
  const { jobIds, start } = progress
  const total = file.ids.length
  const mayBeRecorded = progress.trying || progress.reached
  // The ids of the job that may be recorded end here; the rest were never sent.
  const unsentFrom = mayBeRecorded ? Math.min(start + MAX_IDS_PER_JOB, total) : start
  const lines: string[] = []
  if (jobIds.length > 0) lines.push(`${jobIds.length} job(s) were submitted and go on: follow them with --job ${jobIds.join(',')}`)
  else if (!mayBeRecorded) lines.push('nothing was submitted')
  if (mayBeRecorded) {
    const which = unsentFrom < total ? `from line ${file.lines[start]} to line ${file.lines[unsentFrom - 1]} of ${file.path}` : `from line ${file.lines[start]} of ${file.path} on`
    lines.push(`${unsentFrom - start} of ${total} ids may or may not have been submitted: the ones ${which}`)
  }
  if (unsentFrom < total) lines.push(`${total - unsentFrom} of ${total} ids were not submitted: the ones from line ${file.lines[unsentFrom]} of ${file.path} on`)
  if (jobIds.length > 0 || mayBeRecorded)
    lines.push(`to submit them safely, run the same command again with --idempotency-key ${runKey}: a job recorded already under that key is answered again, not recorded twice`)
  return lines.join('\n')
}
