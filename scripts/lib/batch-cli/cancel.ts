import { CANCEL_PATH, type Cancelled, isCancelled, JOB_NOT_FOUND, NOT_FOUND_HINT } from './batch-api.js'
import { exitOnInterrupt } from './interrupt.js'
import { callRetrying } from './retry-rules.js'
import { refusal, type ServiceClient } from './service-call.js'
import { fail } from './terminal.js'

/**
 * Cancels one job, asking again while the service does not answer or answers a transient failure
 * (a cancel done twice changes nothing), until it has failed for `giveUpMs`; its state, or why not.
 */
async function cancelJob(service: ServiceClient, jobId: string, giveUpMs: number): Promise<Cancelled | { problem: string }> {
  const call = await callRetrying(service, CANCEL_PATH, { jobId }, giveUpMs, `cancel of job ${jobId} refused`)
  if ('problem' in call) {
    // A job the service does not know, as a follow says it: a mistyped id, or another deployment behind --url.
    const refused = call.refused
    if (refused?.status === 404 && refused.body.params?.err === JOB_NOT_FOUND)
      return { problem: `job ${jobId} not found at ${service.base}: ${refusal(refused.status, refused.body)}\n${NOT_FOUND_HINT}` }
    return { problem: call.problem }
  }
  const { answered } = call
  return answered.status === 200 && isCancelled(answered.body.result)
    ? answered.body.result
    : { problem: `not a batch cancel answer from ${service.base}${CANCEL_PATH} (is --url the deletion service?)` }
}

/** Cancels the jobs one after another, saying what became of each; one that cannot be cancelled ends the CLI, naming those that were. */
export async function cancelAll(service: ServiceClient, jobIds: string[], giveUpMs: number): Promise<void> {
  const cancelled: string[] = []
  exitOnInterrupt(() => `a cancel may not have gone through: cancel again with --job ${jobIds.join(',')} --cancel (a cancel done twice changes nothing)`)
  for (const jobId of jobIds) {
    const answer = await cancelJob(service, jobId, giveUpMs)
    if ('problem' in answer) fail(`${answer.problem}\n${cancelled.length === 0 ? 'no job was cancelled' : `cancelled before that: ${cancelled.join(',')}`}`)
    cancelled.push(jobId)
    console.log(whatBecameOf(jobId, answer))
  }
}

/**
 * What the cancel did to the job. A cancel recorded before this one (another operator's, or this
 * run's own try whose answer was lost) is told apart with when it was recorded; a service that
 * sends no `alreadyCancelled` (an instance older than the field, during an upgrade) reads as a
 * cancel made now, the line it always printed.
 */
function whatBecameOf(jobId: string, answer: Cancelled): string {
  if (answer.state === 'completed') return `job ${jobId} had settled every user already: nothing was cancelled`
  if (answer.alreadyCancelled === true) {
    return `job ${jobId} was already cancelled${answer.cancelledAt ? ` at ${answer.cancelledAt}` : ''}: no deletion of its users begins any more; one under way finishes`
  }
  return `cancelled job ${jobId}: no deletion of its users begins any more; one under way finishes`
}
