import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import { createSchemaRegistry } from '../src/schemas/schema-registry.js'
import type { BatchDeletionAccepted, BatchDeletionStatus } from '../src/schemas/schema-types.js'

// `npm run deletion:batch -- --file ids.txt [--mode hard] [--dry-run] [--url <base>]` or `-- --job <id>[,<id>…]`:
// submits the ids of a file (one per line; blank lines and # comments skipped) as batch deletion
// jobs of at most 1000 ids and follows them to the end with a progress bar (plain lines when the
// output is not a terminal). Credentials come from API_BEARER and USER_TOKEN, as the quick start
// prints them (API_BEARER alone: a consumer trusted with deleteAnyUser). `--job` follows jobs
// already submitted (comma-separated) instead. While following, a service that does not answer is
// asked again until it has been silent for `--give-up-after` seconds (120). Exit code: 0 when
// every id was deleted, 1 when any failed, 2 when nothing could be submitted or followed.

const USAGE = 'usage: npm run deletion:batch -- (--file ids.txt [--mode soft|hard] [--dry-run] | --job <jobId>[,<jobId>…]) [--url http://127.0.0.1:9000] [--give-up-after <seconds, 120>]'
const SUBMIT_PATH = '/api/user/v1/delete/batch'
const STATUS_PATH = '/api/user/v1/delete/batch/status'
const MAX_IDS_PER_JOB = 1000
const POLL_MS = 1000
/** A call not answered within this long counts as no answer (a status read; a submit of 1000 ids). */
const CALL_TIMEOUT_MS = 15_000
const DEFAULT_GIVE_UP_SECONDS = 120
/** A submit meeting a transient failure is tried this many times in all, waiting 1 s, 2 s, 4 s between. */
const SUBMIT_ATTEMPTS = 4
const FIRST_BACKOFF_MS = 1000
/** A Retry-After longer than this is waited this long: the operator is watching. */
const MAX_RETRY_AFTER_MS = 30_000
/**
 * Network errors met before the request left: a retry cannot submit a job twice. After a timeout
 * or a cut connection the service may have recorded the job (the batch route takes no
 * Idempotency-Key), so those are not retried.
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])
/** Statuses the service (or a gateway) answers when it did not do the work: worth another try. 504 is left out: the service may have done it. */
const RETRIED_STATUSES = new Set([429, 500, 502, 503])
/** What an HTTP header can carry as a token: visible ASCII, so no pasted line break, space after `Bearer` or curly quote. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/

/** A status answer's `result`, as its schema defines it. */
type Status = NonNullable<BatchDeletionStatus['result']>
type Accepted = NonNullable<BatchDeletionAccepted['result']>

// The CLI reads only `result`; the envelope around it is the service's to get right (its contract tests check it).
const schemas = createSchemaRegistry()
const isStatus = schemas.validator<Status>('user-delete-batch-status.response#/properties/result')
const isAccepted = schemas.validator<Accepted>('user-delete-batch.response#/properties/result')

/** The progress bar while it is drawn: every way out stops it, or the terminal is left without a cursor. */
let bar: cliProgress.SingleBar | undefined

function stopBar() {
  bar?.stop()
  bar = undefined
}

function fail(message: string): never {
  stopBar()
  console.error(message)
  process.exit(2)
}

// ---- flags and credentials: all checked before anything is read or sent ----

interface Options {
  file?: string
  jobIds?: string[]
  mode?: 'soft' | 'hard'
  dryRun: boolean
  base: string
  giveUpMs: number
}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        file: { type: 'string' },
        mode: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        url: { type: 'string', default: 'http://127.0.0.1:9000' },
        job: { type: 'string' },
        'give-up-after': { type: 'string', default: String(DEFAULT_GIVE_UP_SECONDS) },
      },
      strict: true,
    }).values
  } catch (err) {
    return fail(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`)
  }
}

function readOptions(): Options {
  const values = parseFlags()
  if (values.file !== undefined && values.job !== undefined) fail(`--file submits a file and --job follows jobs already submitted: use one\n${USAGE}`)
  if (values['dry-run'] && values.job !== undefined) fail(`--dry-run checks a --file before anything is submitted; it does not go with --job\n${USAGE}`)
  if (!values.file && values.job === undefined) fail(USAGE)
  if (values.mode !== undefined && values.mode !== 'soft' && values.mode !== 'hard') fail(`--mode is soft or hard\n${USAGE}`)
  const jobIds = values.job === undefined ? undefined : [...new Set(values.job.split(',').map((id) => id.trim()))].filter((id) => id !== '')
  if (jobIds?.length === 0) fail(`--job needs a job id\n${USAGE}`)
  return {
    ...(values.file && { file: values.file }),
    ...(jobIds && { jobIds }),
    ...(values.mode && { mode: values.mode }),
    dryRun: values['dry-run'],
    base: baseUrl(values.url),
    giveUpMs: giveUpAfter(values['give-up-after']),
  }
}

/** The service's address: http or https only (fetch reads `127.0.0.1:9000` as a scheme, and fails on every call), no user or password in it. */
function baseUrl(text: string): string {
  const url = URL.canParse(text.trim()) ? new URL(text.trim()) : undefined
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return fail(`--url is an http:// or https:// address, as http://127.0.0.1:9000\n${USAGE}`)
  if (url.username || url.password) fail('--url carries no user or password: the credentials come from API_BEARER and USER_TOKEN')
  return url.href.replace(/\/+$/, '')
}

function giveUpAfter(text: string): number {
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds <= 0) fail(`--give-up-after is a number of seconds above 0\n${USAGE}`)
  return seconds * 1000
}

/** One credential variable, trimmed; undefined when unset or empty. Its value is never printed: it is a bearer token. */
function credential(name: 'API_BEARER' | 'USER_TOKEN'): string | undefined {
  const value = process.env[name]?.trim()
  if (!value) return undefined
  if (!HEADER_TOKEN.test(value)) fail(`${name} holds a character an HTTP header cannot carry (only visible ASCII, no spaces or line breaks inside): set it to the token alone, without "Bearer "`)
  return value
}

/** The request headers: API_BEARER and USER_TOKEN; USER_TOKEN left out, the API bearer alone: a consumer trusted with deleteAnyUser. */
function credentials(): Record<string, string> {
  const apiBearer = credential('API_BEARER')
  const userToken = credential('USER_TOKEN')
  if (!apiBearer)
    fail('set API_BEARER (the gateway consumer JWT) and USER_TOKEN (the user token of the person deleting), as the quick start prints them; API_BEARER alone for a consumer trusted with deleteAnyUser')
  return { authorization: `Bearer ${apiBearer}`, ...(userToken && { 'x-authenticated-user-token': userToken }), 'content-type': 'application/json' }
}

// ---- the ids file ----

interface IdsFile {
  path: string
  /** Distinct, in the order of the file. */
  ids: string[]
  /** lines[i]: the line ids[i] is first listed on. */
  lines: number[]
}

/** The ids of the file, each checked by the same schema as the API's userId. */
function readIds(path: string): IdsFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return fail(`cannot read ${path}`)
  }
  const validUserId = schemas.validator('user-id')
  const firstLine = new Map<string, number>()
  const bad: number[] = []
  text.split(/\r?\n/).forEach((line, index) => {
    const id = line.trim()
    if (id === '' || id.startsWith('#')) return
    if (!validUserId(id)) bad.push(index + 1)
    else if (!firstLine.has(id)) firstLine.set(id, index + 1)
  })
  if (bad.length > 0) fail(`${path}: not a user id on line ${bad.slice(0, 20).join(', ')}${bad.length > 20 ? ` and ${bad.length - 20} more` : ''}`)
  if (firstLine.size === 0) fail(`${path}: no user ids`)
  return { path, ids: [...firstLine.keys()], lines: [...firstLine.values()] }
}

// ---- one call to the service ----

type Body = { params?: { err?: string | null; errmsg?: string | null }; result?: unknown }
type Answer = { kind: 'answer'; status: number; retryAfter: string | null; body: Body } | { kind: 'none'; why: string; notSent: boolean }

/**
 * Why a call got no answer: the timeout, the cause's code (ECONNREFUSED…), else a plain phrase.
 * Never the error's message: undici puts a refused header's whole value, a token, in it.
 */
function noAnswer(err: unknown, timeoutMs: number): Answer {
  if (err instanceof Error && err.name === 'TimeoutError') return { kind: 'none', why: `no answer within ${timeoutMs / 1000}s`, notSent: false }
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return { kind: 'none', why: code, notSent: NOT_SENT_CODES.has(code) }
  return { kind: 'none', why: 'no connection', notSent: false }
}

/** POSTs `{ request }`; the timeout covers the body too, so a service that stalls mid-answer is no answer. */
async function call(path: string, request: Record<string, unknown>, headers: Record<string, string>, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify({ request }), signal: AbortSignal.timeout(timeoutMs) })
    const text = await response.text()
    return { kind: 'answer', status: response.status, retryAfter: response.headers.get('retry-after'), body: parseBody(text) }
  } catch (err) {
    return noAnswer(err, timeoutMs)
  }
}

/** The JSON answer; anything else (a proxy's HTML page) as a one-line errmsg to show. */
function parseBody(text: string): Body {
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body === 'object' && body !== null) return body as Body
  } catch {
    // not JSON: below
  }
  return { params: { errmsg: text.replace(/\s+/g, ' ').trim().slice(0, 200) } }
}

const refusal = (status: number, body: Body) => `${status} ${body.params?.err ?? ''} ${body.params?.errmsg ?? ''}`.trim()

// ---- submitting ----

/** How long to wait before trying a submit again; undefined when another try could not help or could submit the job twice. */
function retryDelay(answer: Answer, attempt: number): number | undefined {
  const backoff = FIRST_BACKOFF_MS * 2 ** (attempt - 1)
  if (answer.kind === 'none') return answer.notSent ? backoff : undefined
  if (!RETRIED_STATUSES.has(answer.status)) return undefined
  return retryAfterMs(answer.retryAfter) ?? backoff
}

/** Retry-After in seconds or as an HTTP date, bounded by MAX_RETRY_AFTER_MS. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now()
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS)
}

/** Submits one job, trying again on a transient failure; the job, or why it was not submitted. */
async function submitJob(userIds: string[], mode: Options['mode'], headers: Record<string, string>): Promise<Accepted | { problem: string }> {
  for (let attempt = 1; ; attempt++) {
    const answer = await call(SUBMIT_PATH, { userIds, ...(mode && { mode }) }, headers, CALL_TIMEOUT_MS)
    if (answer.kind === 'answer' && answer.status >= 200 && answer.status < 300) {
      // Anything but a 202 with a job id (a web page, a proxy): a job may be recorded that this CLI cannot name, so it is not tried again.
      return answer.status === 202 && isAccepted(answer.body.result) ? answer.body.result : { problem: `not a batch answer from ${base}${SUBMIT_PATH} (is --url the deletion service?)` }
    }
    const problem =
      answer.kind === 'none' ? `cannot reach ${base} (${answer.why})${answer.notSent ? '' : '; the service may still have recorded that job'}` : `batch refused: ${refusal(answer.status, answer.body)}`
    const wait = retryDelay(answer, attempt)
    if (wait === undefined || attempt === SUBMIT_ATTEMPTS) return { problem }
    console.error(`${problem}; trying again in ${Math.ceil(wait / 1000)}s`)
    await sleep(wait)
  }
}

/** Submits the file as jobs of at most MAX_IDS_PER_JOB, one after another; their ids. */
async function submitAll(file: IdsFile, mode: Options['mode'], headers: Record<string, string>): Promise<string[]> {
  const jobIds: string[] = []
  for (let start = 0; start < file.ids.length; start += MAX_IDS_PER_JOB) {
    const job = await submitJob(file.ids.slice(start, start + MAX_IDS_PER_JOB), mode, headers)
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

// ---- following ----

type StatusRead = { kind: 'status'; status: Status } | { kind: 'unanswered'; why: string }

/** One job's status; a refusal or an answer that is not a batch status ends the CLI (asking again would not help). */
async function readStatus(jobId: string, headers: Record<string, string>, timeoutMs: number): Promise<StatusRead> {
  const answer = await call(STATUS_PATH, { jobId, limit: MAX_IDS_PER_JOB }, headers, timeoutMs)
  if (answer.kind === 'none') return { kind: 'unanswered', why: answer.why }
  // Restarting, overloaded or in trouble: ask again.
  if (answer.status >= 500 || answer.status === 429) return { kind: 'unanswered', why: `HTTP ${answer.status}` }
  if (answer.status !== 200) fail(`status of job ${jobId} refused: ${refusal(answer.status, answer.body)}`)
  if (!isStatus(answer.body.result)) fail(`not a batch status answer from ${base}${STATUS_PATH} (is --url the deletion service?)`)
  return { kind: 'status', status: answer.body.result }
}

function summarise(statuses: Status[]) {
  const total = statuses.reduce((sum, s) => sum + s.total, 0)
  const done = statuses.reduce((sum, s) => sum + s.done, 0)
  const failed: Record<string, number> = {}
  for (const s of statuses) for (const [code, n] of Object.entries(s.failed)) failed[code] = (failed[code] ?? 0) + n
  // The jobs still running make the rate an ETA rests on; once all are completed, the last minute's.
  const running = statuses.filter((s) => s.state !== 'completed')
  const rate = Math.round((running.length > 0 ? running : statuses).reduce((sum, s) => sum + s.ratePerSecond, 0) * 10) / 10
  const eta = done === total ? 0 : rate > 0 ? Math.ceil((total - done) / rate) : null
  const paused = statuses.some((s) => s.state === 'paused')
  return { total, done, failed, rate, eta, paused, completed: statuses.every((s) => s.state === 'completed') }
}

type Summary = ReturnType<typeof summarise>

const failuresText = (failed: Record<string, number>) =>
  Object.entries(failed)
    .map(([code, n]) => `${code}=${n}`)
    .join(' ') || 'none'

/** Where progress shows: a bar on a terminal, else one plain line per change. */
interface ProgressView {
  show(sum: Summary): void
  /** Once per outage: the service is not answering and the CLI keeps asking. */
  notAnswering(why: string, giveUpMs: number): void
  answersAgain(): void
}

function barView(): ProgressView {
  const drawn = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {value}/{total} | {rate}/s | ETA {etaText} | failed: {failures}{paused}{note}',
      hideCursor: true,
      // The bar's own SIGINT/SIGTERM handler gives the cursor back; onInterrupt then exits.
      gracefulExit: true,
      // The stream whose isTTY chose the bar (cli-progress draws on stderr by default).
      stream: process.stdout,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  let last: { done: number; payload: Record<string, string | number> } = { done: 0, payload: {} }
  const draw = (done: number, payload: Record<string, string | number>) => {
    last = { done, payload }
    drawn.update(done, payload)
  }
  return {
    show(sum) {
      const payload = { ...barPayload(sum), note: '' }
      if (started) return draw(sum.done, payload)
      drawn.start(sum.total, sum.done, payload)
      bar = drawn
      started = true
    },
    notAnswering(why, giveUpMs) {
      if (started) draw(last.done, { ...last.payload, note: ` | NOT ANSWERING (${why}), still trying` })
      else console.error(notAnsweringText(why, giveUpMs))
    },
    answersAgain() {
      if (!started) console.error(`the service at ${base} answers again`)
    },
  }
}

function plainView(): ProgressView {
  let lastLine = ''
  return {
    show(sum) {
      const { etaText, failures } = barPayload(sum)
      const line = `progress ${sum.total === 0 ? 100 : Math.floor((sum.done / sum.total) * 100)}% ${sum.done}/${sum.total} rate ${sum.rate}/s eta ${etaText} failed ${failures}${sum.paused ? ' paused' : ''}`
      if (line !== lastLine) console.log(line)
      lastLine = line
    },
    notAnswering: (why, giveUpMs) => console.error(notAnsweringText(why, giveUpMs)),
    answersAgain: () => console.error(`the service at ${base} answers again`),
  }
}

const barPayload = (sum: Summary) => ({
  rate: sum.rate,
  etaText: sum.eta === null ? '?' : `${sum.eta}s`,
  failures: failuresText(sum.failed),
  paused: sum.paused ? ' | PAUSED (a dependency is in trouble)' : '',
})

const notAnsweringText = (why: string, giveUpMs: number) => `the service at ${base} is not answering (${why}); still trying, for up to ${giveUpMs / 1000}s`

/** Ctrl-C or a kill while following: the jobs go on in the service, so the bar is stopped and the way back is said. */
function onInterrupt(jobIds: string[]) {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      stopBar()
      console.error(`interrupted; the jobs go on: follow again with --job ${jobIds.join(',')}`)
      process.exit(code)
    })
  }
}

/** Polls every job until all are completed; the last statuses. Gives up (exit 2) after giveUpMs without an answer. */
async function pollUntilCompleted(jobIds: string[], headers: Record<string, string>, giveUpMs: number, view: ProgressView): Promise<Status[]> {
  // When the current run of unanswered polls began; undefined while the service answers.
  let silentSince: number | undefined
  for (;;) {
    const askedAt = Date.now()
    // A hung service is asked at least twice before the CLI gives up on it.
    const reads = await Promise.all(jobIds.map((jobId) => readStatus(jobId, headers, Math.min(CALL_TIMEOUT_MS, giveUpMs / 2))))
    const unanswered = reads.find((read) => read.kind === 'unanswered')
    if (unanswered) {
      if (silentSince === undefined) view.notAnswering(unanswered.why, giveUpMs)
      silentSince ??= askedAt
      if (Date.now() - silentSince >= giveUpMs)
        fail(`the service at ${base} has not answered for ${giveUpMs / 1000}s (${unanswered.why}); the jobs go on without this CLI: follow again with --job ${jobIds.join(',')}`)
    } else {
      if (silentSince !== undefined) view.answersAgain()
      silentSince = undefined
      const statuses = reads.flatMap((read) => (read.kind === 'status' ? [read.status] : []))
      const sum = summarise(statuses)
      view.show(sum)
      if (sum.completed) return statuses
    }
    await sleep(POLL_MS)
  }
}

async function follow(jobIds: string[], headers: Record<string, string>, giveUpMs: number): Promise<number> {
  onInterrupt(jobIds)
  const latest = await pollUntilCompleted(jobIds, headers, giveUpMs, process.stdout.isTTY === true ? barView() : plainView())
  stopBar()
  const sum = summarise(latest)
  const failedIds = latest.flatMap((s) => s.outcomes.filter((o) => o.status === 'failed'))
  for (const outcome of failedIds) console.log(`failed ${outcome.userId} ${outcome.err ?? ''}`.trim())
  console.log(`done: ${sum.total - Object.values(sum.failed).reduce((a, b) => a + b, 0)} deleted, ${failuresText(sum.failed)} failed, of ${sum.total}`)
  return failedIds.length > 0 ? 1 : 0
}

// ---- main ----

const options = readOptions()
const base = options.base
const headers = credentials()

async function main(): Promise<number> {
  if (options.jobIds) return follow(options.jobIds, headers, options.giveUpMs)
  const file = readIds(options.file ?? '')
  if (options.dryRun) {
    const who = headers['x-authenticated-user-token'] ? 'API_BEARER and USER_TOKEN' : 'API_BEARER alone (a trusted consumer)'
    console.log(
      `dry run: ${file.ids.length} distinct ids in ${Math.ceil(file.ids.length / MAX_IDS_PER_JOB)} job(s) of at most ${MAX_IDS_PER_JOB}, mode ${options.mode ?? "Sunbird's deletion"}, to ${base}, as ${who}; nothing submitted, contacted nothing`,
    )
    return 0
  }
  return follow(await submitAll(file, options.mode, headers), headers, options.giveUpMs)
}

// Never a stack trace: an error nobody foresaw is named, not dumped (its message may hold a token).
process.exit(await main().catch((err: unknown) => fail(`unexpected error (${err instanceof Error ? err.name : typeof err}); nothing more was done`)))
