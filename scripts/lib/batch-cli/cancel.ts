import { setTimeout as sleep } from 'node:timers/promises'
import { CANCEL_PATH, type Cancelled, isCancelled } from './batch-api.js'
import { isWorthRetrying, retryDelay } from './retry-rules.js'
import { CALL_TIMEOUT_MS, refusal, type ServiceClient, unreached } from './service-call.js'
import { fail } from './terminal.js'

/**
 * Cancels one job, asking again while the service does not answer or answers a transient failure
 * (a cancel done twice changes nothing), until it has failed for `giveUpMs`; its state, or why not.
 */
async function cancelJob(service: ServiceClient, jobId: string, giveUpMs: number): Promise<Cancelled | { problem: string }> {
  const timeoutMs = Math.min(CALL_TIMEOUT_MS, giveUpMs / 2)
  let failingSince: number | undefined
  for (let attempt = 1; ; attempt++) {
    const triedAt = Date.now()
    const answer = await service.call(CANCEL_PATH, { jobId }, timeoutMs)
    if (answer.kind === 'answer' && answer.status === 200) {
      return isCancelled(answer.body.result) ? answer.body.result : { problem: `not a batch cancel answer from ${service.base}${CANCEL_PATH} (is --url the deletion service?)` }
    }
    const problem = answer.kind === 'none' ? unreached(service, answer) : `cancel of job ${jobId} refused: ${refusal(answer.status, answer.body)}`
    failingSince ??= triedAt
    const leftMs = giveUpMs - (Date.now() - failingSince)
    if (!isWorthRetrying(answer) || leftMs <= 0) return { problem }
    const wait = Math.min(retryDelay(answer, attempt), leftMs)
    console.error(`${problem}; trying again in ${Math.ceil(wait / 1000)}s`)
    await sleep(wait)
  }
}

/** Cancels the jobs one after another, saying what became of each; one that cannot be cancelled ends the CLI, naming those that were. */
export async function cancelAll(service: ServiceClient, jobIds: string[], giveUpMs: number): Promise<void> {
  const cancelled: string[] = []
  for (const jobId of jobIds) {
    const answer = await cancelJob(service, jobId, giveUpMs)
    if ('problem' in answer) fail(`${answer.problem}\n${cancelled.length === 0 ? 'no job was cancelled' : `cancelled before that: ${cancelled.join(',')}`}`)
    cancelled.push(jobId)
    console.log(
      answer.state === 'completed' ? `job ${jobId} had settled every user already: nothing was cancelled` : `cancelled job ${jobId}: no deletion of its users begins any more; one under way finishes`,
    )
  }
}
