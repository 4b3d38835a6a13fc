import { setTimeout as sleep } from 'node:timers/promises'
import { type Accepted, isAccepted, MAX_IDS_PER_JOB, SUBMIT_PATH } from './batch-api.js'
import type { IdsFile } from './ids-file.js'
import type { Options } from './options.js'
import { type Answer, CALL_TIMEOUT_MS, refusal, retryAfterMs, type ServiceClient } from './service-call.js'
import { fail } from './terminal.js'

/** A submit meeting a transient failure is tried this many times in all, waiting 1 s, 2 s, 4 s between. */
const SUBMIT_ATTEMPTS = 4
const FIRST_BACKOFF_MS = 1000
/** Statuses the service (or a gateway) answers when it did not do the work: worth another try. 504 is left out: the service may have done it. */
const RETRIED_STATUSES = new Set([429, 500, 502, 503])

/** How long to wait before trying a submit again; undefined when another try could not help or could submit the job twice. */
function retryDelay(answer: Answer, attempt: number): number | undefined {
  const backoff = FIRST_BACKOFF_MS * 2 ** (attempt - 1)
  if (answer.kind === 'none') return answer.notSent ? backoff : undefined
  if (!RETRIED_STATUSES.has(answer.status)) return undefined
  return retryAfterMs(answer.retryAfter) ?? backoff
}

/** Submits one job, trying again on a transient failure; the job, or why it was not submitted. */
async function submitJob(service: ServiceClient, userIds: string[], mode: Options['mode']): Promise<Accepted | { problem: string }> {
  for (let attempt = 1; ; attempt++) {
    const answer = await service.call(SUBMIT_PATH, { userIds, ...(mode && { mode }) }, CALL_TIMEOUT_MS)
    if (answer.kind === 'answer' && answer.status >= 200 && answer.status < 300) {
      // Anything but a 202 with a job id (a web page, a proxy): a job may be recorded that this CLI cannot name, so it is not tried again.
      return answer.status === 202 && isAccepted(answer.body.result) ? answer.body.result : { problem: `not a batch answer from ${service.base}${SUBMIT_PATH} (is --url the deletion service?)` }
    }
    const problem =
      answer.kind === 'none'
        ? `cannot reach ${service.base} (${answer.why})${answer.notSent ? '' : '; the service may still have recorded that job'}`
        : `batch refused: ${refusal(answer.status, answer.body)}`
    const wait = retryDelay(answer, attempt)
    if (wait === undefined || attempt === SUBMIT_ATTEMPTS) return { problem }
    console.error(`${problem}; trying again in ${Math.ceil(wait / 1000)}s`)
    await sleep(wait)
  }
}

/** Submits the file as jobs of at most MAX_IDS_PER_JOB, one after another; their ids. */
export async function submitAll(service: ServiceClient, file: IdsFile, mode: Options['mode']): Promise<string[]> {
  const jobIds: string[] = []
  for (let start = 0; start < file.ids.length; start += MAX_IDS_PER_JOB) {
    const job = await submitJob(service, file.ids.slice(start, start + MAX_IDS_PER_JOB), mode)
    if ('problem' in job) failSubmitting(job.problem, file, start, jobIds)
    jobIds.push(job.jobId)
    // Said at once, so a follow cut short can be resumed with --job.
    console.log(`submitted job ${job.jobId} (${job.total} ids); follow again with --job ${job.jobId}`)
  }
  return jobIds
}

/** A submit that failed for good: the jobs already submitted go on, so they are named, with what was left out. */
function failSubmitting(problem: string, file: IdsFile, start: number, jobIds: string[]): never {
  const left = `${file.ids.length - start} of ${file.ids.length} ids were not submitted: the ones from line ${file.lines[start]} of ${file.path} on`
  const submitted = jobIds.length === 0 ? 'nothing was submitted' : `${jobIds.length} job(s) were submitted and go on: follow them with --job ${jobIds.join(',')}`
  return fail(`${problem}\n${submitted}\n${left}`)
}
