import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import { createSchemaRegistry } from '../src/schemas/schema-registry.js'
import type { BatchDeletionStatus } from '../src/schemas/schema-types.js'

// `npm run deletion:batch -- --file ids.txt [--mode hard] [--dry-run] [--url <base>] [--job <id>]`:
// submits the ids of a file (one per line; blank lines and # comments skipped) as batch deletion
// jobs of at most 1000 ids and follows them to the end with a progress bar (plain lines when the
// output is not a terminal). Credentials come from API_BEARER and USER_TOKEN, as the quick start
// prints them (API_BEARER alone: a consumer trusted with deleteAnyUser). `--job` follows jobs
// already submitted (comma-separated) instead. Exit code: 0 when
// every id was deleted, 1 when any failed, 2 when nothing could be submitted or followed.

const USAGE = 'usage: npm run deletion:batch -- --file ids.txt [--mode soft|hard] [--dry-run] [--url http://127.0.0.1:9000] [--job <jobId>[,<jobId>…]]'
const MAX_IDS_PER_JOB = 1000
const POLL_MS = 1000

/** A status answer's `result`, as its schema defines it. */
type Status = NonNullable<BatchDeletionStatus['result']>

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        file: { type: 'string' },
        mode: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        url: { type: 'string', default: 'http://127.0.0.1:9000' },
        job: { type: 'string' },
      },
      strict: true,
    })
  } catch (err) {
    return fail(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`)
  }
})()

if (!values.file && !values.job) fail(USAGE)
if (values.mode !== undefined && values.mode !== 'soft' && values.mode !== 'hard') fail(`--mode is soft or hard\n${USAGE}`)
const base = (values.url ?? '').replace(/\/+$/, '')

/** The ids of the file, each checked by the same schema as the API's userId. */
function readIds(path: string): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return fail(`cannot read ${path}`)
  }
  const validUserId = createSchemaRegistry().validator('user-id')
  const ids: string[] = []
  const bad: number[] = []
  text.split(/\r?\n/).forEach((line, index) => {
    const id = line.trim()
    if (id === '' || id.startsWith('#')) return
    if (validUserId(id)) ids.push(id)
    else bad.push(index + 1)
  })
  if (bad.length > 0) fail(`${path}: not a user id on line ${bad.slice(0, 20).join(', ')}${bad.length > 20 ? ` and ${bad.length - 20} more` : ''}`)
  if (ids.length === 0) fail(`${path}: no user ids`)
  return [...new Set(ids)]
}

/** API_BEARER and USER_TOKEN; USER_TOKEN left out, the API bearer alone: a consumer trusted with deleteAnyUser. */
function credentials(): Record<string, string> {
  const apiBearer = process.env.API_BEARER
  const userToken = process.env.USER_TOKEN
  if (!apiBearer)
    fail('set API_BEARER (the gateway consumer JWT) and USER_TOKEN (the user token of the person deleting), as the quick start prints them; API_BEARER alone for a consumer trusted with deleteAnyUser')
  return { authorization: `Bearer ${apiBearer}`, ...(userToken && { 'x-authenticated-user-token': userToken }), 'content-type': 'application/json' }
}

async function call(path: string, request: Record<string, unknown>): Promise<{ status: number; body: { params?: { err?: string; errmsg?: string }; result?: Record<string, unknown> } }> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: credentials(), body: JSON.stringify({ request }) })
  const text = await response.text()
  let body = {}
  try {
    body = JSON.parse(text) as object
  } catch {
    body = { params: { errmsg: text.slice(0, 200) } }
  }
  return { status: response.status, body }
}

async function submit(ids: string[]): Promise<string[]> {
  const jobIds: string[] = []
  for (let start = 0; start < ids.length; start += MAX_IDS_PER_JOB) {
    const { status, body } = await call('/api/user/v1/delete/batch', { userIds: ids.slice(start, start + MAX_IDS_PER_JOB), ...(values.mode && { mode: values.mode }) }).catch((err: unknown) =>
      fail(`cannot reach ${base}: ${err instanceof Error ? err.message : String(err)}`),
    )
    if (status !== 202) fail(`batch refused: ${status} ${body.params?.err ?? ''} ${body.params?.errmsg ?? ''}`.trim())
    const jobId = String(body.result?.jobId)
    jobIds.push(jobId)
    // Said at once, so a follow cut short can be resumed with --job.
    console.log(`submitted job ${jobId} (${String(body.result?.total)} ids); follow again with --job ${jobId}`)
  }
  return jobIds
}

async function readStatus(jobId: string): Promise<Status | undefined> {
  const { status, body } = await call('/api/user/v1/delete/batch/status', { jobId, limit: MAX_IDS_PER_JOB }).catch(() => ({ status: 0, body: {} as never }))
  if (status === 0 || status >= 500) return undefined // the service is restarting or in trouble: ask again
  if (status !== 200) fail(`status of job ${jobId} refused: ${status} ${body.params?.err ?? ''} ${body.params?.errmsg ?? ''}`.trim())
  return body.result as unknown as Status
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

const failuresText = (failed: Record<string, number>) =>
  Object.entries(failed)
    .map(([code, n]) => `${code}=${n}`)
    .join(' ') || 'none'

async function follow(jobIds: string[]): Promise<number> {
  const tty = process.stdout.isTTY === true
  const bar = tty
    ? new cliProgress.SingleBar({ format: '{bar} {percentage}% | {value}/{total} | {rate}/s | ETA {etaText} | failed: {failures}{paused}', hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined
  let started = false
  let lastLine = ''
  let latest: Status[] = []
  for (;;) {
    const statuses = await Promise.all(jobIds.map(readStatus))
    if (statuses.every((s): s is Status => s !== undefined)) {
      latest = statuses
      const sum = summarise(statuses)
      const payload = { rate: sum.rate, etaText: sum.eta === null ? '?' : `${sum.eta}s`, failures: failuresText(sum.failed), paused: sum.paused ? ' | PAUSED (a dependency is in trouble)' : '' }
      if (bar) {
        if (!started) bar.start(sum.total, sum.done, payload)
        else bar.update(sum.done, payload)
        started = true
      } else {
        const line = `progress ${sum.total === 0 ? 100 : Math.floor((sum.done / sum.total) * 100)}% ${sum.done}/${sum.total} rate ${sum.rate}/s eta ${payload.etaText} failed ${payload.failures}${sum.paused ? ' paused' : ''}`
        if (line !== lastLine) console.log(line)
        lastLine = line
      }
      if (sum.completed) break
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  bar?.stop()
  const sum = summarise(latest)
  const failedIds = latest.flatMap((s) => s.outcomes.filter((o) => o.status === 'failed'))
  for (const outcome of failedIds) console.log(`failed ${outcome.userId} ${outcome.err ?? ''}`.trim())
  console.log(`done: ${sum.total - Object.values(sum.failed).reduce((a, b) => a + b, 0)} deleted, ${failuresText(sum.failed)} failed, of ${sum.total}`)
  return failedIds.length > 0 ? 1 : 0
}

const ids = values.file ? readIds(values.file) : []
if (values['dry-run']) {
  console.log(
    `dry run: ${ids.length} distinct ids in ${Math.ceil(ids.length / MAX_IDS_PER_JOB)} job(s) of at most ${MAX_IDS_PER_JOB}, mode ${values.mode ?? "Sunbird's deletion"}, to ${base}; nothing submitted`,
  )
  process.exit(0)
}
const jobIds = values.job ? values.job.split(',').map((id) => id.trim()) : await submit(ids)
process.exit(await follow(jobIds))
