import { randomUUID } from 'node:crypto'
import { IDEMPOTENCY_KEY_HEADER } from '../../../src/http/idempotency.js'
import { type Accepted, isAccepted, MAX_IDS_PER_JOB, SUBMIT_PATH } from './batch-api.js'
import type { IdsFile } from './ids-file.js'
import type { Options } from './options.js'
import { callRetrying, mayHaveRecorded } from './retry-rules.js'
import type { ServiceClient } from './service-call.js'
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
  const call = await callRetrying(service, SUBMIT_PATH, request, giveUpMs, 'batch refused', key)
  if ('problem' in call) return { problem: call.failures.some(mayHaveRecorded) ? `${call.problem}; the service may still have recorded that job` : call.problem }
  const { answered } = call
  // Anything but a 202 with a job id (a web page, a proxy): a job may be recorded that this CLI cannot name, so it is not tried again.
  return answered.status === 202 && isAccepted(answered.body.result)
    ? { ...answered.body.result, replayed: answered.replayed }
    : { problem: `not a batch answer from ${service.base}${SUBMIT_PATH} (is --url the deletion service?)` }
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
