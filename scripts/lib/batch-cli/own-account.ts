import { userIdOfSubject } from '../../../src/auth/token-subject.js'
import type { Status } from './batch-api.js'

/**
 * The id of the person whose user token the CLI sends, read from its `sub` as the service reads it
 * (the id, or <id> of f:<provider>:<id>); undefined without a token or one of another shape. Not
 * verified: it only tells the caller's own account among a job's outcomes (see deletedOwnAccountLast).
 */
export function ownUserId(userToken: string | undefined): string | undefined {
  const payload = userToken?.split('.')[1]
  if (!payload) return undefined
  try {
    const sub: unknown = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub
    return typeof sub === 'string' ? userIdOfSubject(sub) : undefined
  } catch {
    return undefined
  }
}

/**
 * A person's own account is the last user their job deletes, and that deletion locks them out at
 * once: their next status read is refused 401. When the last statuses read had every other user of
 * that job settled, its own account pending or deleted, and every other job finished, that refusal
 * is the job's end: the statuses as they end (the own account deleted, the job completed). Else
 * undefined: the 401 is a refusal as any other (an expired token, say).
 */
export function deletedOwnAccountLast(latest: readonly Status[], ownId: string | undefined): { statuses: Status[]; jobId: string } | undefined {
  if (ownId === undefined) return undefined
  const own = latest.filter((status) => status.outcomes.some((outcome) => outcome.userId === ownId))
  const job = own[0]
  // Each status holds its job's every outcome (the CLI reads a whole job a page): none listed, nothing to tell.
  // A cancelled job spares the own account (it reads cancelled): a 401 then is not its deletion.
  if (own.length !== 1 || !job || job.outcomes.length !== job.total || job.state === 'cancelled') return undefined
  const othersSettled = job.outcomes.every((outcome) => (outcome.userId === ownId ? outcome.status === 'pending' || outcome.status === 'deleted' : outcome.status !== 'pending'))
  const othersFinished = latest.every((status) => status === job || status.state === 'completed' || (status.state === 'cancelled' && status.done === status.total))
  if (!othersSettled || !othersFinished) return undefined
  const pending = job.outcomes.some((outcome) => outcome.userId === ownId && outcome.status === 'pending')
  const ended: Status = {
    ...job,
    state: 'completed',
    done: job.total,
    succeeded: job.succeeded + (pending ? 1 : 0),
    progress: 100,
    etaSeconds: 0,
    outcomes: job.outcomes.map((outcome) => (outcome.userId === ownId ? { userId: ownId, status: 'deleted' } : outcome)),
  }
  return { statuses: latest.map((status) => (status === job ? ended : status)), jobId: job.jobId }
}

/**
 * A job whose last status read listed the caller's own account pending, while others were too: a
 * 401 then most likely is that account's deletion, the job's last act, and no follow again by this
 * person could read the job. Undefined when no such job was read.
 */
export function ownAccountPendingIn(latest: readonly Status[], ownId: string | undefined): string | undefined {
  if (ownId === undefined) return undefined
  return latest.find((status) => status.state !== 'cancelled' && status.outcomes.some((outcome) => outcome.userId === ownId && outcome.status === 'pending'))?.jobId
}
