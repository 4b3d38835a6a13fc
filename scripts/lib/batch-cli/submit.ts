import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { IDEMPOTENCY_KEY_HEADER } from '../../../src/http/idempotency.js'
import { type Accepted, isAccepted, MAX_IDS_PER_JOB, SUBMIT_PATH } from './batch-api.js'
import type { IdsFile } from './ids-file.js'
import type { Options } from './options.js'
import { isWorthRetrying, mayHaveRecorded, retryDelay } from './retry-rules.js'
import { CALL_TIMEOUT_MS, refusal, type ServiceClient, unreached } from './service-call.js'
import { fail } from './terminal.js'

type Submitted = Accepted & { replayed: boolean }

/**
 * Submits one job under an Idempotency-Key made for it, trying again with the same key while the
 * service does not answer or answers a transient failure, until it has failed for `giveUpMs`; the
 * job (`replayed` when an earlier try had recorded it), or why it was not submitted.
 */
async function submitJob(service: ServiceClient, request: { userIds: string[]; mode?: Options['mode'] }, giveUpMs: number): Promise<Submitted | { problem: string }> {
  // One key per job, the same on every try: a try whose 202 was lost is answered again, not recorded twice.
  const key = { [IDEMPOTENCY_KEY_HEADER]: randomUUID() }
  // A hung service is asked at least twice before the CLI gives up on it, as when following.
  const timeoutMs = Math.min(CALL_TIMEOUT_MS, giveUpMs / 2)
  let failingSince: number | undefined
  let recordedMaybe = false
  for (let attempt = 1; ; attempt++) {
    const triedAt = Date.now()
    const answer = await service.call(SUBMIT_PATH, request, timeoutMs, key)
    if (answer.kind === 'answer' && answer.status >= 200 && answer.status < 300) {
      // Anything but a 202 with a job id (a web page, a proxy): a job may be recorded that this CLI cannot name, so it is not tried again.
      return answer.status === 202 && isAccepted(answer.body.result)
        ? { ...answer.body.result, replayed: answer.replayed }
        : { problem: `not a batch answer from ${service.base}${SUBMIT_PATH} (is --url the deletion service?)` }
    }
    recordedMaybe ||= mayHaveRecorded(answer)
    const problem = answer.kind === 'none' ? unreached(service, answer) : `batch refused: ${refusal(answer.status, answer.body)}`
    failingSince ??= triedAt
    const leftMs = giveUpMs - (Date.now() - failingSince)
    if (!isWorthRetrying(answer) || leftMs <= 0) return { problem: recordedMaybe ? `${problem}; the service may still have recorded that job` : problem }
    const wait = Math.min(retryDelay(answer, attempt), leftMs)
    console.error(`${problem}; trying again in ${Math.ceil(wait / 1000)}s`)
    await sleep(wait)
  }
}

/** Submits the file as jobs of at most MAX_IDS_PER_JOB, one after another; their ids. */
export async function submitAll(service: ServiceClient, file: IdsFile, mode: Options['mode'], giveUpMs: number): Promise<string[]> {
  const jobIds: string[] = []
  for (let start = 0; start < file.ids.length; start += MAX_IDS_PER_JOB) {
    const job = await submitJob(service, { userIds: file.ids.slice(start, start + MAX_IDS_PER_JOB), ...(mode && { mode }) }, giveUpMs)
    if ('problem' in job) failSubmitting(job.problem, file, start, jobIds)
    jobIds.push(job.jobId)
    // Said at once, so a follow cut short can be resumed with --job.
    const recorded = job.replayed ? ', recorded by an earlier try whose answer was lost' : ''
    console.log(`submitted job ${job.jobId} (${job.total} ids${recorded}); follow again with --job ${job.jobId}`)
  }
  return jobIds
}

/** A submit that failed for good: the jobs already submitted go on, so they are named, with what was left out. */
function failSubmitting(problem: string, file: IdsFile, start: number, jobIds: string[]): never {
  const left = `${file.ids.length - start} of ${file.ids.length} ids were not submitted: the ones from line ${file.lines[start]} of ${file.path} on`
  const submitted = jobIds.length === 0 ? 'nothing was submitted' : `${jobIds.length} job(s) were submitted and go on: follow them with --job ${jobIds.join(',')}`
  return fail(`${problem}\n${submitted}\n${left}`)
}
