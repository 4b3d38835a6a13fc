import { setTimeout as sleep } from 'node:timers/promises'
import { BATCH_CLI_POLL_MS } from '../../../src/deletion/own-account-dwell.js'
import { isStatus, JOB_NOT_FOUND, MAX_IDS_PER_JOB, NOT_FOUND_HINT, STATUS_PATH, type Status } from './batch-api.js'
import { exitOnInterrupt } from './interrupt.js'
import { type ProgressView, progressView } from './progress-view.js'
import { CALL_TIMEOUT_MS, refusal, type ServiceClient, unreached } from './service-call.js'
import { deletedOwnAccountLast, ownAccountPendingIn } from './own-account.js'
import { failuresText, summarise } from './summary.js'
import { fail, stopBar } from './terminal.js'

// The service lets a job's creator's own account wait a few of these polls once the others are settled (OWN_ACCOUNT_DWELL_MS).
const POLL_MS = BATCH_CLI_POLL_MS

type StatusRead =
  | { kind: 'status'; status: Status }
  | { kind: 'unanswered'; why: string }
  | { kind: 'unreachable'; problem: string }
  /** A refusal (an expired token, say; `status` its HTTP status) or an answer that is not a batch status: asking again would not help. */
  | { kind: 'refused'; problem: string; status?: number }
  /** The service has no job of that id (404 UOS_USRDLT0101): none to follow again either. */
  | { kind: 'not found'; jobId: string; problem: string }

/** Every way a follow is given up ends with this: the jobs are the service's, not the CLI's. */
const goOnWithout = (jobIds: string[]) => `the jobs go on without this CLI: follow again with --job ${jobIds.join(',')}`

/** How a run that followed the last users of its jobs closes: the ids listed above it, the count of those still owing steps, and how to follow them. */
const OWED_HINT = 'retried until done; follow each request listed above with POST /api/user/v1/delete/status {"request":{"requestId":"<id>"}}, or check it with npm run deletion:verify -- <id>'

/**
 * One job's status; a refusal or an answer that is not a batch status (`refused`) ends the CLI, as
 * does an address no try can get through (`unreachable`): read, not said here, so the end names every job.
 */
async function readStatus(service: ServiceClient, jobId: string, timeoutMs: number): Promise<StatusRead> {
  const answer = await service.call(STATUS_PATH, { jobId, limit: MAX_IDS_PER_JOB }, timeoutMs)
  if (answer.kind === 'none') return answer.misconfigured ? { kind: 'unreachable', problem: unreached(service, answer) } : { kind: 'unanswered', why: answer.why }
  // Restarting, overloaded or in trouble: ask again.
  if (answer.status >= 500 || answer.status === 429) return { kind: 'unanswered', why: `HTTP ${answer.status}` }
  if (answer.status === 404 && answer.body.params?.err === JOB_NOT_FOUND)
    return { kind: 'not found', jobId, problem: `job ${jobId} not found at ${service.base}: ${refusal(answer.status, answer.body)}` }
  if (answer.status !== 200) return { kind: 'refused', problem: `status of job ${jobId} refused: ${refusal(answer.status, answer.body)}`, status: answer.status }
  if (!isStatus(answer.body.result)) return { kind: 'refused', problem: `not a batch status answer from ${service.base}${STATUS_PATH} (is --url the deletion service?)` }
  return { kind: 'status', status: answer.body.result }
}

/**
 * How a follow ended: every job's last status, and the job whose last act, deleting the caller's own
 * account, ended the follow (a 401), if one did; `first`: every job's status as first read together
 * (a cancel read there was made before this follow began).
 */
export interface Followed {
  statuses: Status[]
  first: Status[]
  ownAccountDeletedBy?: string
}

/** What the CLI reads of its user token (userTokenFacts): it tells a 401 after the caller's own deletion from others. */
interface CallerFacts {
  ownId?: string | undefined
  tokenExpiresAt?: number | undefined
}

/**
 * Polls every job until all are completed (or cancelled, their last users settled); the last statuses. Gives up (exit 2) after giveUpMs
 * without an answer. `answered`: the service at this address has answered already (the submit). `ownId`: the caller's own user id,
 * whose deletion, the last act of its job, refuses every read after it (see deletedOwnAccountLast); `tokenExpiresAt`: when the user
 * token expires, a 401 past it being that. `heldBack`: what the run has not submitted yet and how to, said last by every way this ends early.
 */
async function pollUntilCompleted(
  service: ServiceClient,
  jobIds: string[],
  giveUpMs: number,
  view: ProgressView,
  answered: boolean,
  { ownId, tokenExpiresAt }: CallerFacts,
  heldBack?: string,
): Promise<Followed> {
  // Every way the follow ends early: the CLI ends, naming what it never submitted.
  const stop = (message: string): never => fail(heldBack === undefined ? message : `${message}\n${heldBack}`)
  // When the current run of unanswered polls began; undefined while the service answers.
  let silentSince: number | undefined
  let answeredHere = answered
  // Every job's status as last read together: what a 401 after the caller's own deletion is judged by.
  let latest: Status[] = []
  let first: Status[] | undefined
  for (;;) {
    const askedAt = Date.now()
    // A hung service is asked at least twice before the CLI gives up on it.
    const reads = await Promise.all(jobIds.map((jobId) => readStatus(service, jobId, Math.min(CALL_TIMEOUT_MS, giveUpMs / 2))))
    // A port fetch blocks, a TLS handshake or certificate that fails: before any answer, no retry mends
    // it, so it is said at once; once the address has answered, it is a passing fault (an ingress
    // reloading its certificate), waited out like any silence.
    const unreachable = reads.find((read) => read.kind === 'unreachable')
    if (unreachable && !answeredHere) stop(`${unreachable.problem}; ${goOnWithout(jobIds)}`)
    // A job id the service does not know (mistyped, or of another deployment behind --url): nothing of it goes on, nothing to follow again.
    const notFound = reads.filter((read): read is Extract<StatusRead, { kind: 'not found' }> => read.kind === 'not found')
    if (notFound.length > 0) {
      const missing = new Set(notFound.map((read) => read.jobId))
      const others = jobIds.filter((jobId) => !missing.has(jobId))
      const rest = others.length > 0 ? `\nthe other jobs go on without this CLI: follow them again with --job ${others.join(',')}` : ''
      stop(`${notFound.map((read) => read.problem).join('\n')}\n${NOT_FOUND_HINT}${rest}`)
    }
    // Most often a user token that expired during a long follow: the jobs go on all the same.
    const refused = reads.find((read): read is Extract<StatusRead, { kind: 'refused' }> => read.kind === 'refused')
    if (refused) {
      // A token past its expiry is refused whatever the jobs did: a fresh one follows them again.
      if (refused.status === 401 && tokenExpiresAt !== undefined && Date.now() >= tokenExpiresAt)
        stop(
          `${refused.problem}\nyour USER_TOKEN expired at ${new Date(tokenExpiresAt).toISOString()}: the jobs go on without this CLI: follow again with a fresh USER_TOKEN and --job ${jobIds.join(',')}`,
        )
      // The job's last act is deleting the caller's own account: nothing is left to follow, and no follow again could read it.
      const ended = refused.status === 401 ? deletedOwnAccountLast(latest, ownId) : undefined
      if (ended) return { statuses: ended.statuses, first: first ?? latest, ownAccountDeletedBy: ended.jobId }
      // Its other users were still pending at the last read: the service deletes the own account only after them.
      const ownWaits = refused.status === 401 ? ownAccountPendingIn(latest, ownId) : undefined
      if (ownWaits)
        stop(
          `${refused.problem}\njob ${ownWaits} lists your own account (${ownId}), deleted only once every other id is settled, and some were still pending at the last read: this refusal is most likely not that deletion but a credential (USER_TOKEN, API_BEARER) no longer accepted\n${goOnWithout(jobIds)}`,
        )
      stop(`${refused.problem}\n${goOnWithout(jobIds)}`)
    }
    const unanswered = reads.find((read): read is Extract<StatusRead, { kind: 'unanswered' | 'unreachable' }> => read.kind === 'unanswered' || read.kind === 'unreachable')
    if (unanswered) {
      const why = unanswered.kind === 'unanswered' ? unanswered.why : unanswered.problem
      if (silentSince === undefined) view.notAnswering(why, giveUpMs)
      silentSince ??= askedAt
      if (Date.now() - silentSince >= giveUpMs) stop(`the service at ${service.base} has not answered for ${giveUpMs / 1000}s (${why}); ${goOnWithout(jobIds)}`)
    } else {
      if (silentSince !== undefined) view.answersAgain()
      silentSince = undefined
      answeredHere = true
      const statuses = reads.flatMap((read) => (read.kind === 'status' ? [read.status] : []))
      latest = statuses
      first ??= statuses
      const sum = summarise(statuses)
      view.show(sum)
      if (sum.completed) return { statuses, first }
    }
    await sleep(POLL_MS)
  }
}

/**
 * Follows the jobs a run submitted (their submits answered) until every one is settled, saying no
 * more: the run goes on with the job it held back (see submitAll), which `heldBack` names with every
 * way this ends early (an interrupt, a refusal, a silence), with how to submit it.
 */
export async function settle(service: ServiceClient, jobIds: string[], giveUpMs: number, heldBack: string, caller: CallerFacts): Promise<Followed> {
  const interrupted = () => `the jobs go on: follow again with --job ${jobIds.join(',')} (add --cancel to stop them)\n${heldBack}`
  return followOnBar(service, jobIds, giveUpMs, interrupted, true, caller, heldBack)
}

/** Follows the jobs to the end, then names every id that failed; the exit code: 1 when any failed or a cancel spared any, else 0. */
export async function follow(
  service: ServiceClient,
  jobIds: string[],
  giveUpMs: number,
  options: { answeredBefore?: boolean; cancelled?: boolean; ownId?: string | undefined; tokenExpiresAt?: number | undefined } = {},
): Promise<number> {
  // `cancelled`: the jobs were cancelled by this CLI.
  const stop = options.cancelled === true ? 'they are cancelled and settle their last users' : 'add --cancel to stop them'
  const interrupted = () => `the jobs go on: follow again with --job ${jobIds.join(',')} (${stop})`
  return report(await followOnBar(service, jobIds, giveUpMs, interrupted, options.answeredBefore === true, options), options.ownId)
}

/**
 * Polls the jobs to their end (pollUntilCompleted) on the progress bar, stopped once they are; an
 * interrupt meanwhile ends the CLI saying `interrupted`.
 */
async function followOnBar(service: ServiceClient, jobIds: string[], giveUpMs: number, interrupted: () => string, answered: boolean, caller: CallerFacts, heldBack?: string): Promise<Followed> {
  exitOnInterrupt(interrupted)
  const followed = await pollUntilCompleted(service, jobIds, giveUpMs, progressView(service.base), answered, caller, heldBack)
  stopBar()
  return followed
}

/** How the jobs followed to their end ended: every id that failed, those owing steps, the last line; the exit code: 1 when any failed or a cancel spared any, else 0. */
export function report({ statuses: latest, ownAccountDeletedBy }: Followed, ownId?: string): number {
  const sum = summarise(latest)
  const failedIds = latest.flatMap((s) => s.outcomes.filter((o) => o.status === 'failed'))
  for (const outcome of failedIds) console.log(`failed ${outcome.userId} ${outcome.err ?? ''}`.trim())
  // Deleted, but owing steps to a store that was down: the request to follow, so the operator can show when each is done.
  for (const s of latest) for (const outcome of s.outcomes) if (outcome.owed) console.log(`owed ${outcome.userId} ${outcome.requestId ?? ''}`.trim())
  // Only a cancel's spared users are named apart: a job never cancelled reads as it always did.
  const spared = sum.cancelled > 0 ? `, ${sum.cancelled} cancelled (not deleted)` : ''
  // Likewise deletions still owing steps: counted as deleted (exit 0), named so that they are not taken for finished.
  const owed = sum.owed > 0 ? `; ${sum.owed} of them with steps still owed (${OWED_HINT})` : ''
  console.log(`done: ${sum.succeeded} deleted, ${failuresText(sum.failed)} failed${spared}, of ${sum.total}${owed}`)
  if (ownAccountDeletedBy)
    console.log(
      `the last act of job ${ownAccountDeletedBy} is deleting your own account (${ownId}), once every other id is settled: the 401 right after the status read showing that says your account is deleted and you are locked out, so this token reads no status any more (an ORG_ADMIN of your organisation can read how the job ended)`,
    )
  return failedIds.length > 0 || sum.cancelled > 0 ? 1 : 0
}
