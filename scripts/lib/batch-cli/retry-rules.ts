import { setTimeout as sleep } from 'node:timers/promises'
import { errorEntry } from '../../../src/http/error-codes.js'
import { type Answer, CALL_TIMEOUT_MS, refusal, retryAfterMs, type ServiceClient, unreached } from './service-call.js'

// When a call of the CLI is tried again, and after how long: the same rules for a submit and a cancel.

/** Between tries of one call: 1 s, doubling up to 8 s (or as Retry-After says). */
const FIRST_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 8000
/**
 * Statuses after which a submit is tried again. Every try of a job carries its one Idempotency-Key,
 * and its job id follows from that key, so the job is recorded once whatever an earlier try did:
 * after a 429 the service recorded nothing; after a 5xx it may have (its request deadline answers
 * 503 while the submit goes on; a gateway's 502 or 504 may come after the service recorded it), and
 * the retry carries on that same job. A cancel changes nothing when done twice: tried again alike.
 */
const RETRIED_STATUSES = new Set([429, 500, 502, 503, 504])
/** The first try with this key still runs: asked again, its 202 is replayed once it has answered. */
const IN_FLIGHT = errorEntry('IDEMPOTENCY_KEY_IN_FLIGHT')

const isInFlight = (answer: Answer) => answer.kind === 'answer' && answer.status === IN_FLIGHT.status && answer.body.params?.err === IN_FLIGHT.err

/**
 * Whether another try could succeed: no answer (whether or not the request left), a transient status,
 * or the first try still running; not an address no try can get through (a port fetch blocks, a TLS
 * handshake or certificate that fails): that is said at once.
 */
function isWorthRetrying(answer: Answer): boolean {
  return answer.kind === 'none' ? answer.misconfigured === undefined : RETRIED_STATUSES.has(answer.status) || isInFlight(answer)
}

/**
 * Whether the service may have recorded the job of this try, unless it named it: no answer after the
 * request left, a 5xx, the first try still running, or a 2xx (one the CLI cannot read may still stand for a job).
 */
export function mayHaveRecorded(answer: Answer): boolean {
  return answer.kind === 'none' ? !answer.notSent : answer.status < 300 || answer.status >= 500 || isInFlight(answer)
}

function retryDelay(answer: Answer, attempt: number): number {
  const asked = answer.kind === 'answer' ? retryAfterMs(answer.retryAfter) : undefined
  return asked ?? Math.min(FIRST_BACKOFF_MS * 2 ** (attempt - 1), MAX_BACKOFF_MS)
}

type Answered = Extract<Answer, { kind: 'answer' }>

/**
 * One call of `path`, asked again while another try could succeed, as long apart as retryDelay
 * says, until it has failed for `giveUpMs`: its first 2xx answer; or, given up, the last failure
 * worded (a refusal as `<refusedAs>: <status err errmsg>`).
 */
export async function callRetrying(
  service: ServiceClient,
  path: string,
  request: Record<string, unknown>,
  giveUpMs: number,
  refusedAs: string,
  headers: Record<string, string> = {},
): Promise<{ answered: Answered } | { problem: string; refused?: Answered }> {
  // A hung service is asked at least twice before the CLI gives up on it, as when following.
  const timeoutMs = Math.min(CALL_TIMEOUT_MS, giveUpMs / 2)
  let failingSince: number | undefined
  for (let attempt = 1; ; attempt++) {
    const triedAt = Date.now()
    const answer = await service.call(path, request, timeoutMs, headers)
    if (answer.kind === 'answer' && answer.status >= 200 && answer.status < 300) return { answered: answer }
    const problem = answer.kind === 'none' ? unreached(service, answer) : `${refusedAs}: ${refusal(answer.status, answer.body)}`
    failingSince ??= triedAt
    const leftMs = giveUpMs - (Date.now() - failingSince)
    if (!isWorthRetrying(answer) || leftMs <= 0) return { problem, ...(answer.kind === 'answer' && { refused: answer }) }
    const wait = Math.min(retryDelay(answer, attempt), leftMs)
    console.error(`${problem}; trying again in ${Math.ceil(wait / 1000)}s`)
    await sleep(wait)
  }
}
