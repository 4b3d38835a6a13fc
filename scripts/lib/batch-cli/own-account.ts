import { userIdOfSubject } from '../../../src/auth/token-subject.js'
import type { Status } from './batch-api.js'

/** The largest time a Date holds (ECMAScript's ±8.64e15 ms). */
const MAX_DATE_MS = 8.64e15

/** The user token's payload, not verified: what the CLI reads of it only tells 401s apart. */
function payloadOf(userToken: string | undefined): { sub?: unknown; exp?: unknown } | undefined {
  const payload = userToken?.split('.')[1]
  if (!payload) return undefined
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined
  } catch {
    return undefined
  }
}

/**
 * What the CLI reads of the user token it sends, its payload decoded once:
 * - `ownId`: the id of the person it names, read from its `sub` as the service reads it (the id, or
 *   <id> of f:<provider>:<id>); it only tells the caller's own account among a job's outcomes (see
 *   deletedOwnAccountLast);
 * - `tokenExpiresAt`: when it expires (its `exp`, in ms): a 401 past it is that expiry, whatever the job did.
 * Each undefined without a token, or one without that claim in that shape. Not verified.
 */
export function userTokenFacts(userToken: string | undefined): { ownId: string | undefined; tokenExpiresAt: number | undefined } {
  const payload = payloadOf(userToken)
  const sub = payload?.sub
  const exp = payload?.exp
  return {
    ownId: typeof sub === 'string' ? userIdOfSubject(sub) : undefined,
    // Within a Date's range, so that the time can be told (toISOString throws past it).
    tokenExpiresAt: typeof exp === 'number' && Math.abs(exp * 1000) <= MAX_DATE_MS ? exp * 1000 : undefined,
  }
}

/**
 * A person's own account is the last user their job deletes, a few seconds after every other is
 * settled (the service's OWN_ACCOUNT_DWELL_MS, longer than the CLI's poll), and that deletion locks
 * them out at once: their next status read is refused 401. When the last statuses read had every
 * other user of that job settled, its own account pending or deleted, the job not cancelled (its own
 * account then spared; a paused one still deletes it: it waits for the breaker, and its deletion
 * is the probe ending the cool-off, the job reading running only once it has locked them out),
 * and every other job finished, that refusal says their account is gone: the statuses as read, the
 * own account counted deleted (nothing more is made up: the job's state stays as read). Else
 * undefined: the 401 is a refusal as any other.
 */
export function deletedOwnAccountLast(latest: readonly Status[], ownId: string | undefined): { statuses: Status[]; jobId: string } | undefined {
  if (ownId === undefined) return undefined
  const own = latest.filter((status) => status.outcomes.some((outcome) => outcome.userId === ownId))
  const job = own[0]
  // Each status holds its job's every outcome (the CLI reads a whole job a page): none listed, nothing to tell.
  if (own.length !== 1 || !job || job.outcomes.length !== job.total || job.state === 'cancelled') return undefined
  const othersSettled = job.outcomes.every((outcome) => (outcome.userId === ownId ? outcome.status === 'pending' || outcome.status === 'deleted' : outcome.status !== 'pending'))
  const othersFinished = latest.every((status) => status === job || status.state === 'completed' || (status.state === 'cancelled' && status.done === status.total))
  if (!othersSettled || !othersFinished) return undefined
  const pending = job.outcomes.some((outcome) => outcome.userId === ownId && outcome.status === 'pending')
  const ended: Status = {
    ...job,
    done: job.done + (pending ? 1 : 0),
    succeeded: job.succeeded + (pending ? 1 : 0),
    outcomes: job.outcomes.map((outcome) => (outcome.userId === ownId ? { userId: ownId, status: 'deleted' } : outcome)),
  }
  return { statuses: latest.map((status) => (status === job ? ended : status)), jobId: job.jobId }
}

/**
 * A job whose last status read listed the caller's own account pending while other users were
 * pending too: the service deletes it only once they are all settled, so a 401 then is most likely
 * not that deletion but a credential (an expired USER_TOKEN, a rotated API_BEARER). Undefined when
 * no such job was read.
 */
export function ownAccountPendingIn(latest: readonly Status[], ownId: string | undefined): string | undefined {
  if (ownId === undefined) return undefined
  const waits = (status: Status) => status.outcomes.some((outcome) => outcome.userId === ownId && outcome.status === 'pending')
  const othersPending = (status: Status) => status.outcomes.some((outcome) => outcome.userId !== ownId && outcome.status === 'pending')
  return latest.find((status) => status.state !== 'cancelled' && waits(status) && othersPending(status))?.jobId
}
