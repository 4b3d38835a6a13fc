import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import { errorEntry } from '../../src/http/error-codes.js'
import { readIds } from '../../scripts/lib/batch-cli/ids-file.js'
import { noAnswer } from '../../scripts/lib/batch-cli/service-call.js'
import { runBehindFullPipe } from '../support/full-pipe.js'
import { behindSlowReader } from '../support/slow-reader.js'
import { freePort } from '../support/spawned-server.js'
import { type StubRequest, type StubServer, startStubServer } from '../support/stub-http-server.js'

// `npm run deletion:batch` against a fake deletion service (a stub HTTP server): what the operator
// sees and the exit code when the service misbehaves. The real service: test/contract/deletion-batch-cli.test.ts.

const SUBMIT = '/api/user/v1/delete/batch'
const STATUS = '/api/user/v1/delete/batch/status'
const CREDENTIALS = { API_BEARER: 'test-api-bearer', USER_TOKEN: 'test-user-token' }
const HIDE_CURSOR = '\x1b[?25l'
const SHOW_CURSOR = '\x1b[?25h'

const dir = mkdtempSync(join(tmpdir(), 'deletion-batch-unit-'))
// Preloaded into the CLI: stdout passes for a terminal, so the progress bar is drawn (escape codes and all) into the pipe.
const fakeTerminal = join(dir, 'fake-terminal.mjs')
writeFileSync(fakeTerminal, "Object.defineProperty(process.stdout, 'isTTY', { value: true })\nprocess.stdout.columns = 120\n")

interface Run {
  /** null: the CLI did not end within the test's limit and was killed. */
  code: number | null
  /** stdout and stderr, interleaved as they came. */
  out: string
}

interface RunOptions {
  tty?: boolean
  /** Kills the CLI (and tsx's child) after this long: a CLI that hangs fails the test instead of hanging it. */
  limitMs?: number
  /** Called on every chunk of output with all output so far. */
  onOutput?: (out: string, signal: (name: NodeJS.Signals) => void) => void
  /** Called once the CLI is started, with a way to signal it (to interrupt it when a request arrives). */
  onStart?: (signal: (name: NodeJS.Signals) => void) => void
  /**
   * Stdout goes to a reader slow to take anything, as `| tee log` behind a busy disk (stderr comes as
   * written): nothing of it is read until half a second (slowStdoutLagMs) after the output shows this, so the CLI has
   * written more than a pipe holds, and may have ended, before any of it is read.
   */
  slowStdoutUntil?: string
  /** How long after the output shows slowStdoutUntil the reader starts: 500 ms unless given. */
  slowStdoutLagMs?: number
  /** Stdout's reader is gone from the start (`| head` that has read its lines): `out` is stderr alone. */
  stdoutGone?: boolean
}

/** Runs `npm run deletion:batch -- …` as the contract test does, with only the credentials given in `env`. */
/** 1500 cancels behind a slow reader took over 20 s on a loaded 2-core machine: the CLI's run gets this long before it is killed. */
const LOADED_MACHINE_LIMIT_MS = 60_000

function runCli(args: string[], env: Record<string, string>, options: RunOptions = {}): Promise<Run> {
  const { API_BEARER: _bearer, USER_TOKEN: _token, NODE_OPTIONS: _options, ...inherited } = process.env
  const tsx = join(projectRoot, 'node_modules', '.bin', 'tsx')
  const cli = [join(projectRoot, 'scripts', 'deletion-batch.ts'), ...args]
  const slow = options.slowStdoutUntil === undefined ? undefined : behindSlowReader(tsx, cli, dir, options.slowStdoutLagMs)
  const child = spawn(slow?.command ?? tsx, slow?.args ?? cli, {
    cwd: projectRoot,
    env: { ...inherited, ...env, ...(options.tty && { NODE_OPTIONS: `--import ${pathToFileURL(fakeTerminal).href}` }) },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so the limit kills tsx's node child too.
    detached: true,
  })
  const signal = (name: NodeJS.Signals) => {
    const pid = slow ? slow.pid() : child.pid
    return pid !== undefined && process.kill(pid, name)
  }
  options.onStart?.(signal)
  let out = ''
  const collect = (chunk: Buffer) => {
    out += chunk.toString('utf8')
    if (options.slowStdoutUntil !== undefined && out.includes(options.slowStdoutUntil)) slow?.release()
    options.onOutput?.(out, signal)
  }
  if (options.stdoutGone) child.stdout.destroy()
  else child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const limit = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), options.limitMs ?? 20_000)
  // Once its output is read to the end, not merely once it exited: a slow reader passes the last lines on after that.
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(limit)
      resolve({ code, out })
    }),
  )
}

function envelope(id: string, status: number, result: unknown) {
  return {
    id,
    ver: 'v1',
    ts: '2024-05-20 10:08:56:812+0000',
    params: { resmsgid: randomUUID(), msgid: randomUUID(), err: null, status: status < 400 ? 'SUCCESS' : 'FAILED', errmsg: null },
    responseCode: status < 400 ? 'OK' : 'SERVER_ERROR',
    result,
  }
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

const accept = (res: ServerResponse, jobId: string, total: number) => answer(res, 202, envelope('api.user.delete.batch', 202, { response: 'SUCCESS', jobId, total }))

/** A status answer: `done` of `total` settled, every settled one deleted. */
function statusResult(jobId: string, total: number, done = total) {
  return {
    jobId,
    state: done === total ? 'completed' : 'running',
    total,
    done,
    succeeded: done,
    failed: {},
    progress: total === 0 ? 100 : Math.floor((done / total) * 100),
    ratePerSecond: 1,
    etaSeconds: total - done,
    outcomes: [],
  }
}

const CANCEL = '/api/user/v1/delete/batch/cancel'
/** A cancel's answer; `recorded` adds what a service that records the cancel's standing answers (`alreadyCancelled`, `cancelledAt`), absent from an older one's. */
const cancelAnswer = (res: ServerResponse, jobId: string, state: 'cancelled' | 'completed', recorded?: { alreadyCancelled: boolean; cancelledAt: string }) =>
  answer(res, 200, envelope('api.user.delete.batch.cancel', 200, { response: 'SUCCESS', jobId, state, ...recorded }))

const status = (res: ServerResponse, result: unknown) => answer(res, 200, envelope('api.user.delete.batch.status', 200, result))

const requestOf = (request: StubRequest) => (JSON.parse(request.body) as { request: { jobId?: string; userIds?: string[] } }).request

function idsFile(count: number): { path: string; ids: string[] } {
  const ids = Array.from({ length: count }, () => randomUUID())
  const path = join(dir, `${randomUUID()}.txt`)
  writeFileSync(path, `${ids.join('\n')}\n`)
  return { path, ids }
}

/** A base URL nothing listens on (a port just freed). */
async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`
}

const count = (text: string, part: string) => text.split(part).length - 1
/** A stack trace's frame lines. */
const STACK = /^\s+at /m

const stubs: StubServer[] = []
async function stub(handle: (request: StubRequest, res: ServerResponse) => void): Promise<StubServer> {
  const server = await startStubServer(handle)
  stubs.push(server)
  return server
}
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((s) => s.close()))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('npm run deletion:batch against a fake service', () => {
  it('when the job completes, then it prints plain progress lines and exits 0', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === SUBMIT ? accept(res, jobId, 2) : status(res, statusResult(jobId, 2))))
    const { path } = idsFile(2)
    const { code, out } = await runCli(['--file', path, '--url', service.url], CREDENTIALS)
    expect(out).toContain(`submitted job ${jobId} (2 ids); follow again with --job ${jobId}`)
    expect(out).toMatch(/^progress 100% 2\/2 rate 1\/s eta 0s failed none$/m)
    expect(out).toContain('done: 2 deleted, none failed, of 2')
    expect(code).toBe(0)
    expect(service.requests[0]?.headers.authorization).toBe('Bearer test-api-bearer')
    expect(service.requests[0]?.headers['x-authenticated-user-token']).toBe('test-user-token')
  }, 30_000)
})

describe("when stdout's reader is gone (| head that has read its lines)", () => {
  it('when the CLI still has lines to write, then they are dropped, and it follows the job to its end and exits with its own code, without a stack trace', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((request, res) => {
      if (request.path === SUBMIT) return accept(res, jobId, 2)
      polls += 1
      status(res, statusResult(jobId, 2, polls === 1 ? 1 : 2))
    })
    const { code, out } = await runCli(['--file', idsFile(2).path, '--url', service.url], CREDENTIALS, { stdoutGone: true })
    expect(out).toBe('')
    expect(polls).toBe(2)
    expect(code).toBe(0)
  }, 30_000)
})

describe('--give-up-after in fractions of a second', () => {
  it('when it is 1.001 (each call may wait half of it, 500.5 ms), then every call is sent and answered, and the job is followed to its end', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === SUBMIT ? accept(res, jobId, 2) : status(res, statusResult(jobId, 2))))
    const { code, out } = await runCli(['--file', idsFile(2).path, '--url', service.url, '--give-up-after', '1.001'], CREDENTIALS)
    expect(service.requests.map((request) => request.path)).toEqual([SUBMIT, STATUS])
    expect(out).not.toContain('cannot reach')
    expect(out).toContain('done: 2 deleted, none failed, of 2')
    expect(code).toBe(0)
  }, 30_000)
})

describe('when its output is a pipe (a log, | tee), every line is written before the CLI exits', () => {
  it('when three jobs end with 1000 failures each, then every failure is listed and the last line comes after them', async () => {
    const jobIds = [randomUUID(), randomUUID(), randomUUID()]
    const service = await stub((request, res) => {
      const jobId = requestOf(request).jobId ?? ''
      const outcomes = Array.from({ length: 1000 }, () => ({ userId: randomUUID(), status: 'failed', err: 'FORBIDDEN' }))
      status(res, { ...statusResult(jobId, 1000), succeeded: 0, failed: { FORBIDDEN: 1000 }, outcomes })
    })
    const { code, out } = await runCli(['--job', jobIds.join(','), '--url', service.url], CREDENTIALS)
    expect(count(out, '\nfailed ')).toBe(3000)
    expect(out.endsWith('done: 0 deleted, FORBIDDEN=3000 failed, of 3000\n')).toBe(true)
    expect(code).toBe(1)
  }, 30_000)

  // 1500 jobs: their lines, one a job cancelled, are more than a pipe holds.
  const manyJobs = () => Array.from({ length: 1500 }, () => randomUUID())
  const cancelledLines = (out: string) => out.match(/^cancelled job [0-9a-f-]{36}: no deletion of its users begins any more/gm)?.length

  it(
    'when the log reads slowly and the last of 1500 cancels is refused, then every job said cancelled still reaches it, with the refusal naming them; exit 2',
    async () => {
      const jobIds = manyJobs()
      const refused = jobIds.at(-1)
      const service = await stub((request, res) => {
        const jobId = requestOf(request).jobId ?? ''
        if (jobId === refused) return res.writeHead(403, { 'content-type': 'text/plain' }).end(errorEntry('FORBIDDEN').errmsg)
        cancelAnswer(res, jobId, 'cancelled')
      })

      const { code, out } = await runCli(['--job', jobIds.join(','), '--cancel', '--url', service.url], CREDENTIALS, { slowStdoutUntil: 'cancelled before that: ', limitMs: LOADED_MACHINE_LIMIT_MS })

      expect(cancelledLines(out)).toBe(1499)
      expect(out).toContain(`cancel of job ${refused} refused: 403`)
      expect(out).toContain(`cancelled before that: ${jobIds.slice(0, -1).join(',')}\n`)
      expect(code).toBe(2)
    },
    LOADED_MACHINE_LIMIT_MS + 10_000,
  )

  it(
    'when the log reads slowly and Ctrl-C comes during the last of 1500 cancels, then every job said cancelled still reaches it, with how to cancel again; exit 130',
    async () => {
      const jobIds = manyJobs()
      // The last cancel is never answered.
      const service = await stub((request, res) => {
        const jobId = requestOf(request).jobId ?? ''
        if (jobId !== jobIds.at(-1)) cancelAnswer(res, jobId, 'cancelled')
      })
      let signal: ((name: NodeJS.Signals) => void) | undefined
      const run = runCli(['--job', jobIds.join(','), '--cancel', '--url', service.url], CREDENTIALS, {
        slowStdoutUntil: 'interrupted; ',
        onStart: (send) => (signal = send),
        limitMs: LOADED_MACHINE_LIMIT_MS,
      })
      await service.arrived(jobIds.length)
      signal?.('SIGINT')
      const { code, out } = await run

      expect(cancelledLines(out)).toBe(1499)
      expect(out).toContain(`interrupted; a cancel may not have gone through: cancel again with --job ${jobIds.join(',')} --cancel (a cancel done twice changes nothing)\n`)
      expect(code).toBe(130)
    },
    LOADED_MACHINE_LIMIT_MS + 10_000,
  )
})

describe('once interrupted, the CLI says nothing more than the interrupt does', () => {
  it('when Ctrl-C comes while a cancel waits to be tried again, and the log reads slowly so the CLI is still writing when that wait ends, then no try follows and no retry note comes after the interrupt', async () => {
    // 1000 cancelled lines: more than a pipe holds, so the interrupt's exit waits on the reader, started 3 s after it.
    const jobIds = Array.from({ length: 1001 }, () => randomUUID())
    const last = jobIds.at(-1)
    const service = await stub((request, res) => {
      const jobId = requestOf(request).jobId ?? ''
      if (jobId === last) return answer(res, 503, envelope('api.user.delete.batch.cancel', 503, {}), { 'retry-after': '1' })
      cancelAnswer(res, jobId, 'cancelled')
    })
    let interrupted = false
    const { code, out } = await runCli(['--job', jobIds.join(','), '--cancel', '--url', service.url], CREDENTIALS, {
      slowStdoutUntil: 'interrupted; ',
      slowStdoutLagMs: 3000,
      limitMs: 40_000,
      // During the 1 s the last cancel waits before its next try.
      onOutput: (sofar, signal) => {
        if (!interrupted && sofar.includes('trying again in')) {
          interrupted = true
          signal('SIGINT')
        }
      },
    })

    expect(interrupted).toBe(true)
    // Stdout's cancelled lines come after it (the reader is slow); besides them, only the interrupt's own line.
    const [interruptLine, ...saidAfter] = out
      .slice(out.indexOf('interrupted; '))
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('cancelled job '))
    expect(interruptLine).toBe(`interrupted; a cancel may not have gone through: cancel again with --job ${jobIds.join(',')} --cancel (a cancel done twice changes nothing)`)
    expect(saidAfter).toEqual([])
    expect(count(out, 'trying again in')).toBe(1)
    expect(service.requests.filter((request) => requestOf(request).jobId === last)).toHaveLength(1)
    expect(code).toBe(130)
  }, 50_000)
})

describe('a job whose deletions still owe steps (a store was down: their requests partial)', () => {
  it('when the job completes with users deleted owing steps, then each is listed with the request to follow, the last line counts them apart, and the exit code is still 0', async () => {
    const jobId = randomUUID()
    const [done, owing] = [randomUUID(), randomUUID()]
    const requestId = `batch-${'0'.repeat(32)}`
    const result = {
      ...statusResult(jobId, 2),
      owed: 1,
      outcomes: [
        { userId: done, status: 'deleted' },
        { userId: owing, status: 'deleted', owed: true, requestId },
      ],
    }
    const service = await stub((request, res) => (request.path === SUBMIT ? accept(res, jobId, 2) : status(res, result)))
    const { code, out } = await runCli(['--file', idsFile(2).path, '--url', service.url], CREDENTIALS)
    expect(out).toContain(`owed ${owing} ${requestId}`)
    expect(out).not.toContain(`owed ${done}`)
    expect(out).toMatch(
      /^done: 2 deleted, none failed, of 2; 1 of them with steps still owed \(retried until done; follow each request listed above with POST \/api\/user\/v1\/delete\/status .*npm run deletion:verify -- <id>\)$/m,
    )
    expect(code).toBe(0)
  }, 30_000)
})

describe('when status polling gets no answer, it says so once, keeps trying for --give-up-after seconds, then exits 2 with the --job hint', () => {
  const unanswered: [string, (res: ServerResponse) => void][] = [
    ['a 503 with an HTML page', (res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<html><body>Service Unavailable</body></html>')],
    ['a 500', (res) => answer(res, 500, envelope('api.user.delete.batch.status', 500, {}))],
    ['a connection cut without an answer', (res) => res.socket?.destroy()],
    ['no answer at all (the call times out)', () => {}],
  ]
  it.each(unanswered)(
    '%s',
    async (_name, misbehave) => {
      const jobId = randomUUID()
      const service = await stub((_request, res) => misbehave(res))
      const { code, out } = await runCli(['--job', jobId, '--url', service.url, '--give-up-after', '2'], CREDENTIALS)
      expect(count(out, 'is not answering')).toBe(1)
      expect(out).toContain('still trying')
      expect(out).toMatch(new RegExp(`has not answered for 2s .*follow again with --job ${jobId}`))
      expect(out).not.toMatch(STACK)
      expect(code).toBe(2)
      // It kept asking.
      expect(service.requests.length).toBeGreaterThanOrEqual(2)
    },
    30_000,
  )

  it('nothing listening: the reason is the connection code, not the fetch error', async () => {
    const jobId = randomUUID()
    const url = await deadUrl()
    const { code, out } = await runCli(['--job', jobId, '--url', url, '--give-up-after', '1'], CREDENTIALS)
    expect(out).toContain(`the service at ${url} is not answering (ECONNREFUSED)`)
    expect(out).not.toContain('fetch failed')
    expect(out).toContain(`follow again with --job ${jobId}`)
    expect(code).toBe(2)
  }, 30_000)

  it('when the service answers again before the limit, then it says so and follows to the end', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((_request, res) => {
      polls += 1
      if (polls <= 2) res.writeHead(502).end('Bad Gateway')
      else status(res, statusResult(jobId, 3))
    })
    const { code, out } = await runCli(['--job', jobId, '--url', service.url, '--give-up-after', '10'], CREDENTIALS)
    expect(count(out, 'is not answering (HTTP 502)')).toBe(1)
    expect(out).toContain(`the service at ${service.url} answers again`)
    expect(out).toContain('done: 3 deleted, none failed, of 3')
    expect(code).toBe(0)
  }, 30_000)
})

describe('when --url is not an http(s) address, then it is refused up front with exit 2', () => {
  it.each([['127.0.0.1:9000'], ['localhost:9000'], ['ftp://127.0.0.1:9000'], ['not a url'], ['http://operator:secret@127.0.0.1:9000']])(
    '%s',
    async (url) => {
      const { code, out } = await runCli(['--job', randomUUID(), '--url', url], CREDENTIALS, { limitMs: 10_000 })
      expect(out).toContain('--url')
      expect(out).not.toContain('secret')
      expect(out).not.toMatch(STACK)
      expect(code).toBe(2)
    },
    15_000,
  )
})

describe('when a 200 status answer is not a batch status, then it exits 2 naming the URL, without a stack trace', () => {
  const jobId = randomUUID()
  const answers: [string, (res: ServerResponse) => void][] = [
    ['a result of another shape', (res) => status(res, { jobId, state: 'running' })],
    ['a result with a count of the wrong type', (res) => status(res, { ...statusResult(jobId, 2), done: '1' })],
    ['no result', (res) => answer(res, 200, { id: 'api.user.delete.batch.status', params: {} })],
    ['an HTML page', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Portal</body></html>')],
  ]
  it.each(answers)(
    '%s',
    async (_name, misanswer) => {
      const service = await stub((_request, res) => misanswer(res))
      const { code, out } = await runCli(['--job', jobId, '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
      expect(out).toContain(`not a batch status answer from ${service.url}${STATUS}`)
      expect(out).not.toMatch(STACK)
      expect(code).toBe(2)
    },
    15_000,
  )
})

describe('when a credential holds a character a header cannot carry, then it is refused naming the variable, never showing its value', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['API_BEARER with a line break inside', { ...CREDENTIALS, API_BEARER: 'eyJsecret\nPART2' }, 'API_BEARER'],
    ['API_BEARER with a Bearer prefix', { ...CREDENTIALS, API_BEARER: 'Bearer eyJsecretPART2' }, 'API_BEARER'],
    ['USER_TOKEN with a non-ASCII character', { ...CREDENTIALS, USER_TOKEN: 'eyJsecret’PART2' }, 'USER_TOKEN'],
    ['USER_TOKEN with a tab inside', { ...CREDENTIALS, USER_TOKEN: 'eyJsecret\tPART2' }, 'USER_TOKEN'],
  ]
  it.each(cases)(
    '%s',
    async (_name, env, variable) => {
      const service = await stub((_request, res) => res.writeHead(500).end())
      const { path } = idsFile(1)
      for (const args of [
        ['--file', path],
        ['--file', path, '--dry-run'],
        ['--job', randomUUID()],
      ]) {
        const { code, out } = await runCli([...args, '--url', service.url], env, { limitMs: 10_000 })
        expect(out).toContain(variable)
        expect(out).not.toContain('eyJsecret')
        expect(out).not.toContain('PART2')
        expect(code).toBe(2)
      }
      expect(service.requests).toHaveLength(0)
    },
    45_000,
  )
})

describe('when USER_TOKEN has expired (past the clock skew the service allows, 60 s), then it is refused up front, saying when, and nothing is sent', () => {
  const tokenExpiring = (exp: number) => `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: randomUUID(), exp })).toString('base64url')}.signature`

  it('when it expired an hour ago, then a run, a dry run and a follow exit 2 naming USER_TOKEN and its expiry, never the token', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const exp = Math.floor(Date.now() / 1000) - 3600
    const token = tokenExpiring(exp)
    const { path } = idsFile(1)
    for (const args of [
      ['--file', path],
      ['--file', path, '--dry-run'],
      ['--job', randomUUID()],
    ]) {
      const { code, out } = await runCli([...args, '--url', service.url], { ...CREDENTIALS, USER_TOKEN: token }, { limitMs: 10_000 })
      expect(out).toBe(`USER_TOKEN expired at ${new Date(exp * 1000).toISOString()}: set a fresh one (the quick start prints how to get it); nothing was sent\n`)
      expect(code).toBe(2)
    }
    expect(service.requests).toHaveLength(0)
  }, 45_000)

  it('when AUTH_CLOCK_SKEW_SECONDS allows more than the default and the token expired within it, then a dry run still passes it: the CLI never refuses what the service would take', async () => {
    const token = tokenExpiring(Math.floor(Date.now() / 1000) - 600)
    const { code, out } = await runCli(['--file', idsFile(1).path, '--dry-run'], { ...CREDENTIALS, USER_TOKEN: token, AUTH_CLOCK_SKEW_SECONDS: '900' }, { limitMs: 10_000 })
    expect(out).toContain('dry run: 1 distinct ids')
    expect(code).toBe(0)
  }, 15_000)

  it('when it expired within the clock skew, then a dry run still passes it: the service may take it yet', async () => {
    const token = tokenExpiring(Math.floor(Date.now() / 1000) - 5)
    const { code, out } = await runCli(['--file', idsFile(1).path, '--dry-run'], { ...CREDENTIALS, USER_TOKEN: token }, { limitMs: 10_000 })
    expect(out).toContain('dry run: 1 distinct ids')
    expect(code).toBe(0)
  }, 15_000)
})

describe('flag combinations', () => {
  it.each([[['--help']], [['-h']], [['--file', 'no-such-file.txt', '--help']]])(
    'when asked for help with %j, then it prints the usage on stdout and exits 0, without credentials and sending nothing',
    async (args) => {
      const service = await stub((_request, res) => res.writeHead(500).end())
      const { API_BEARER: _bearer, USER_TOKEN: _token, NODE_OPTIONS: _options, ...inherited } = process.env

      const run = spawnSync(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'scripts', 'deletion-batch.ts'), ...args, '--url', service.url], {
        cwd: projectRoot,
        env: inherited,
        encoding: 'utf8',
        timeout: 20_000,
      })

      expect(run.status).toBe(0)
      expect(run.stdout).toMatch(/^usage: npm run deletion:batch -- \(--file ids\.txt .*\n$/)
      expect(run.stderr).toBe('')
      expect(service.requests).toHaveLength(0)
    },
    25_000,
  )

  it('when asked for help into a pipe already full (| tee log behind a busy disk), then the usage still arrives whole once the reader takes it, and the exit code is 0', async () => {
    const { API_BEARER: _bearer, USER_TOKEN: _token, NODE_OPTIONS: _options, ...inherited } = process.env
    const run = await runBehindFullPipe(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'scripts', 'deletion-batch.ts'), '--help'], inherited)
    expect(run.out).toMatch(/^usage: npm run deletion:batch -- \(--file ids\.txt .*\[--give-up-after <seconds, 120>\]\n$/)
    expect(run.code).toBe(0)
  }, 60_000)

  it('when --file and --job are both given, then it is refused with exit 2 and nothing is sent', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const { code, out } = await runCli(['--file', idsFile(1).path, '--job', randomUUID(), '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
    expect(out).toMatch(/--file .*--job .*one/)
    expect(code).toBe(2)
    expect(service.requests).toHaveLength(0)
  }, 15_000)

  it('when --dry-run goes with --job, then it is refused with exit 2 and nothing is sent', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const { code, out } = await runCli(['--dry-run', '--job', randomUUID(), '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
    expect(out).toContain('--dry-run')
    expect(code).toBe(2)
    expect(service.requests).toHaveLength(0)
  }, 15_000)

  it('when --mode goes with --job, then it is refused with exit 2 (a job keeps the mode it was submitted with) and nothing is sent', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const { code, out } = await runCli(['--mode', 'hard', '--job', randomUUID(), '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
    expect(out).toContain('--mode goes with the --file')
    expect(code).toBe(2)
    expect(service.requests).toHaveLength(0)
  }, 15_000)

  it.each([
    ['--file', (a: string, b: string) => ['--file', a, '--file', b], 'one file per run'],
    ['--file', (a: string, b: string) => [`--file=${a}`, '--mode', 'hard', '--file', b], 'one file per run'],
    ['--mode', (a: string) => ['--file', a, '--mode', 'soft', '--mode', 'hard'], 'it takes one value'],
    ['--url', (a: string) => ['--file', a, '--url', 'http://127.0.0.1:9', '--url', 'http://127.0.0.1:9'], 'it takes one value'],
    ['--job', () => ['--job', randomUUID(), '--job', randomUUID()], 'comma-separated'],
    ['--idempotency-key', (a: string) => ['--file', a, '--idempotency-key', randomUUID(), '--idempotency-key', randomUUID()], 'it takes one value'],
    ['--give-up-after', (a: string) => ['--file', a, '--give-up-after', '5', '--give-up-after', '6'], 'it takes one value'],
  ])(
    'when %s is given twice, then it is refused with exit 2 (neither value is silently dropped), the values are not repeated back, and nothing is sent',
    async (flag, args, instead) => {
      const service = await stub((_request, res) => res.writeHead(500).end())
      const [a, b] = [idsFile(1).path, idsFile(1).path]
      const given = args(a, b)
      const { code, out } = await runCli([...given, ...(given.includes('--url') ? [] : ['--url', service.url])], CREDENTIALS, { limitMs: 10_000 })
      expect(out).toContain(`${flag} is given more than once`)
      expect(out).toContain(instead)
      expect(out).not.toContain(b)
      expect(code).toBe(2)
      expect(service.requests).toHaveLength(0)
    },
    15_000,
  )

  it('when --job names something that is not a job id (an email pasted by mistake), then it is refused with exit 2, not repeated back, and nothing is sent', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const { code, out } = await runCli(['--job', `${randomUUID()},someone@example.org`, '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
    expect(out).toContain('--job takes the job ids this CLI printed (UUIDs): 1 of those given is not one')
    expect(out).not.toContain('someone@example.org')
    expect(code).toBe(2)
    expect(service.requests).toHaveLength(0)
  }, 15_000)

  it.each(['?q=1', '#x', '?', '#'])(
    'when --url carries %s (it would swallow the API path), then it is refused with exit 2 and nothing is sent',
    async (tail) => {
      const service = await stub((_request, res) => res.writeHead(500).end())
      const { code, out } = await runCli(['--job', randomUUID(), '--url', `${service.url}/${tail}`], CREDENTIALS, { limitMs: 10_000 })
      expect(out).toContain('--url is the service')
      expect(code).toBe(2)
      expect(service.requests).toHaveLength(0)
    },
    15_000,
  )

  it.each([
    ['names no file', () => join(dir, 'no-such-ids.txt'), 'no such file'],
    ['names a folder', () => mkdtempSync(join(dir, 'ids-')), 'a folder, not a file'],
  ])(
    'when --file %s, then it says why it cannot read it, exit 2, and nothing is sent',
    async (_name, pathOf, why) => {
      const path = pathOf()
      const { code, out } = await runCli(['--file', path, '--dry-run'], CREDENTIALS, { limitMs: 10_000 })
      expect(out).toBe(`cannot read ${path}: ${why}\n`)
      expect(code).toBe(2)
    },
    15_000,
  )

  it('when --dry-run is asked without API_BEARER, then it is refused with exit 2', async () => {
    const { code, out } = await runCli(['--file', idsFile(1).path, '--dry-run'], { API_BEARER: '', USER_TOKEN: '' }, { limitMs: 10_000 })
    expect(out).toContain('API_BEARER')
    expect(code).toBe(2)
  }, 15_000)

  it('when --dry-run has a file and well-formed credentials, then it says it contacted nothing, and nothing is sent', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const { code, out } = await runCli(['--file', idsFile(3).path, '--dry-run', '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
    expect(out).toContain('dry run: 3 distinct ids in 1 job(s)')
    expect(out).toContain('contacted nothing')
    expect(code).toBe(0)
    expect(service.requests).toHaveLength(0)
  }, 15_000)
})

describe('a file of more than 1000 ids: sequential jobs, each submit retried on a transient failure', () => {
  it('when the second submit meets 503 twice, then it is retried and both jobs are followed to the end', async () => {
    const jobIds = [randomUUID(), randomUUID()]
    let submits = 0
    const service = await stub((request, res) => {
      if (request.path === STATUS) return status(res, statusResult(requestOf(request).jobId ?? '', requestOf(request).jobId === jobIds[0] ? 1000 : 1))
      submits += 1
      if (submits === 1) return accept(res, jobIds[0]!, 1000)
      if (submits <= 3) return answer(res, 503, envelope('api.user.delete.batch', 503, {}))
      accept(res, jobIds[1]!, 1)
    })
    const { code, out } = await runCli(['--file', idsFile(1001).path, '--url', service.url], CREDENTIALS)
    expect(service.requests.filter((r) => r.path === SUBMIT).map((r) => requestOf(r).userIds?.length)).toEqual([1000, 1, 1, 1])
    expect(out).toContain('done: 1001 deleted, none failed, of 1001')
    expect(code).toBe(0)
  }, 30_000)

  it('when a submit meets 429 with Retry-After, then it waits that long before trying again', async () => {
    const jobId = randomUUID()
    let submits = 0
    const service = await stub((request, res) => {
      if (request.path === STATUS) return status(res, statusResult(jobId, 1))
      submits += 1
      if (submits === 1) return answer(res, 429, envelope('api.user.delete.batch', 429, {}), { 'retry-after': '2' })
      accept(res, jobId, 1)
    })
    const started: number[] = []
    service.server.on('request', () => started.push(Date.now()))
    const { code } = await runCli(['--file', idsFile(1).path, '--url', service.url], CREDENTIALS)
    expect(code).toBe(0)
    expect(started[1]! - started[0]!).toBeGreaterThanOrEqual(1900)
  }, 30_000)

  it('when a later submit keeps failing, then it names every job already submitted as one --job hint, says how many ids were not submitted, and exits 2', async () => {
    const jobIds = [randomUUID(), randomUUID()]
    let submits = 0
    const service = await stub((_request, res) => {
      submits += 1
      if (submits <= 2) return accept(res, jobIds[submits - 1]!, 1000)
      res.writeHead(503, { 'content-type': 'text/html' }).end('<html>down</html>')
    })
    const { path } = idsFile(2500)
    const { code, out } = await runCli(['--file', path, '--url', service.url, '--give-up-after', '3'], CREDENTIALS, { limitMs: 40_000 })
    expect(out).toContain(`--job ${jobIds.join(',')}`)
    expect(out).toContain(`500 of 2500 ids may or may not have been submitted: the ones from line 2001 of ${path} on`)
    expect(out).toContain('run the same command again with --idempotency-key ')
    expect(out).not.toMatch(STACK)
    expect(code).toBe(2)
    // Two jobs, then the third tried a few times; no status asked: the CLI does not follow a partial submission.
    expect(submits).toBeGreaterThan(3)
    expect(service.requests.every((r) => r.path === SUBMIT)).toBe(true)
  }, 45_000)

  it('when a later submit is refused (400), then it is not retried, and the jobs already submitted are named', async () => {
    const jobId = randomUUID()
    let submits = 0
    const service = await stub((_request, res) => {
      submits += 1
      if (submits === 1) return accept(res, jobId, 1000)
      answer(res, 400, { ...envelope('api.user.delete.batch', 400, {}), params: { err: 'UOS_USRDLT0001', errmsg: 'refused', status: 'FAILED' } })
    })
    const { code, out } = await runCli(['--file', idsFile(1001).path, '--url', service.url], CREDENTIALS)
    expect(out).toContain('batch refused: 400 UOS_USRDLT0001 refused')
    expect(out).toContain(`--job ${jobId}`)
    expect(submits).toBe(2)
    expect(code).toBe(2)
  }, 30_000)
})

describe('a refusal is shown on one line, as text, whatever answers at --url sent', () => {
  it('when its err and errmsg hold an escape sequence and a line break, then they are shown as spaces: the terminal is not driven and no line of the CLI is forged', async () => {
    const service = await stub((_request, res) =>
      answer(res, 400, { ...envelope('api.user.delete.batch', 400, {}), params: { err: 'E\x1b[2J', errmsg: 'refused\ndone: 1 deleted, of 1', status: 'FAILED' } }),
    )

    const { code, out } = await runCli(['--file', idsFile(1).path, '--url', service.url], CREDENTIALS, { limitMs: 10_000 })

    expect(out).toContain('batch refused: 400 E [2J refused done: 1 deleted, of 1\n')
    expect(out).not.toContain('\x1b')
    expect(out.split('\n').filter((line) => line.startsWith('done:'))).toEqual([])
    expect(code).toBe(2)
  }, 15_000)

  it('when its errmsg is not text (an object), then only the status and err are shown, not [object Object]', async () => {
    const service = await stub((_request, res) => answer(res, 400, { ...envelope('api.user.delete.batch', 400, {}), params: { err: 'UOS_USRDLT0001', errmsg: { detail: 'x' }, status: 'FAILED' } }))

    const { code, out } = await runCli(['--file', idsFile(1).path, '--url', service.url], CREDENTIALS, { limitMs: 10_000 })

    expect(out).toContain('batch refused: 400 UOS_USRDLT0001\n')
    expect(out).not.toContain('[object Object]')
    expect(code).toBe(2)
  }, 15_000)
})

describe('each job is submitted under an Idempotency-Key of its own, the same on every try, so a lost answer costs no second job', () => {
  /** A job's key: the run's key (a random UUID), then the job's number in the file. */
  const KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\/\d+$/
  const keyOf = (request: StubRequest) => request.headers['idempotency-key']
  const runKeyOf = (request: StubRequest) => String(keyOf(request)).split('/')[0]
  const submitsTo = (service: StubServer) => service.requests.filter((r) => r.path === SUBMIT)

  /**
   * A service that records the job on the first try but answers it `firstAnswer`, then, asked again
   * with the same key, replays the 202 as the service does; another key gets a second job.
   */
  async function recordsThenLoses(firstAnswer: (res: ServerResponse) => void, total: number) {
    const jobId = randomUUID()
    let firstKey: string | string[] | undefined
    const service = await stub((request, res) => {
      if (request.path === STATUS) return status(res, statusResult(requestOf(request).jobId ?? '', total))
      if (firstKey === undefined) {
        firstKey = keyOf(request)
        return firstAnswer(res)
      }
      if (keyOf(request) === firstKey) return answer(res, 202, envelope('api.user.delete.batch', 202, { response: 'SUCCESS', jobId, total }), { 'idempotent-replayed': 'true' })
      accept(res, randomUUID(), total)
    })
    return { service, jobId }
  }

  const lostAnswers: [string, (res: ServerResponse) => void, string[]][] = [
    ['the connection is cut before the 202 arrives', (res) => res.socket?.destroy(), []],
    // --give-up-after 4: each try waits at most 2 s.
    ['no answer comes within the call timeout', () => {}, ['--give-up-after', '4']],
    ['a gateway answers 504', (res) => res.writeHead(504, { 'content-type': 'text/html' }).end('<html>Gateway Timeout</html>'), []],
    [
      'the first try is still running (409 UOS_USRDLT0099)',
      (res) =>
        answer(res, 409, {
          ...envelope('api.user.delete.batch', 409, {}),
          params: { err: errorEntry('IDEMPOTENCY_KEY_IN_FLIGHT').err, errmsg: errorEntry('IDEMPOTENCY_KEY_IN_FLIGHT').errmsg, status: 'FAILED' },
        }),
      [],
    ],
  ]
  it.each(lostAnswers)(
    'when %s, then the submit is tried again with the same key, the replayed 202 names the job, and only that job is followed',
    async (_name, firstAnswer, flags) => {
      const { service, jobId } = await recordsThenLoses(firstAnswer, 2)

      const { code, out } = await runCli(['--file', idsFile(2).path, '--url', service.url, ...flags], CREDENTIALS)

      const submits = submitsTo(service)
      expect(submits, out).toHaveLength(2)
      expect(keyOf(submits[0] as StubRequest)).toMatch(KEY)
      expect(keyOf(submits[1] as StubRequest)).toBe(keyOf(submits[0] as StubRequest))
      expect(submits[1]?.body).toBe(submits[0]?.body)
      expect(out).toContain(`submitted job ${jobId} (2 ids, recorded by an earlier try whose answer was lost); follow again with --job ${jobId}`)
      expect(service.requests.filter((r) => r.path === STATUS).every((r) => requestOf(r).jobId === jobId)).toBe(true)
      expect(out).toContain('done: 2 deleted, none failed, of 2')
      expect(code).toBe(0)
    },
    30_000,
  )

  it('when a file of 1001 ids goes as two jobs, then each job carries a key of its own', async () => {
    const jobIds = [randomUUID(), randomUUID()]
    let submits = 0
    const service = await stub((request, res) => {
      if (request.path === STATUS) return status(res, statusResult(requestOf(request).jobId ?? '', requestOf(request).jobId === jobIds[0] ? 1000 : 1))
      accept(res, jobIds[submits++] ?? '', submits === 1 ? 1000 : 1)
    })

    const { code } = await runCli(['--file', idsFile(1001).path, '--url', service.url], CREDENTIALS)

    const keys = submitsTo(service).map(keyOf)
    expect(keys).toHaveLength(2)
    for (const key of keys) expect(key).toMatch(KEY)
    const runKey = runKeyOf(submitsTo(service)[0] as StubRequest)
    expect(keys).toEqual([`${runKey}/1`, `${runKey}/2`])
    expect(code).toBe(0)
  }, 30_000)

  it('when every submit is answered 503 (the service’s own deadline, the submit still running), then the CLI gives up saying the ids may or may not have been submitted, never that nothing was, and prints the key to submit them again safely', async () => {
    const service = await stub((_request, res) => answer(res, 503, { ...envelope('api.user.delete.batch', 503, {}), params: { err: 'UOS_USRDLT0064', errmsg: 'unavailable', status: 'FAILED' } }))
    const { path } = idsFile(2)

    const { code, out } = await runCli(['--file', path, '--url', service.url, '--give-up-after', '2'], CREDENTIALS)

    expect(new Set(submitsTo(service).map(keyOf)).size).toBe(1)
    expect(out).toContain('the service may still have recorded that job')
    expect(out).not.toContain('nothing was submitted')
    expect(out).not.toContain('were not submitted')
    expect(out).toContain(`2 of 2 ids may or may not have been submitted: the ones from line 1 of ${path} on`)
    expect(out).toContain(`run the same command again with --idempotency-key ${runKeyOf(submitsTo(service)[0] as StubRequest)}: a job recorded already under that key is answered again`)
    expect(code).toBe(2)
  }, 30_000)

  it('when the CLI gave up on a submit the service had recorded, then the same command with the printed --idempotency-key gets that job back, records no second, and follows it', async () => {
    // Records the job under the first key it sees, answers 503 while `down`, then replays that job's 202 for that key; any other key would be a second job.
    const jobId = randomUUID()
    let down = true
    let recordedKey: string | string[] | undefined
    const service = await stub((request, res) => {
      if (request.path === STATUS) return status(res, statusResult(requestOf(request).jobId ?? '', 2))
      recordedKey ??= keyOf(request)
      if (down) return answer(res, 503, { ...envelope('api.user.delete.batch', 503, {}), params: { err: 'UOS_USRDLT0064', errmsg: 'unavailable', status: 'FAILED' } })
      if (keyOf(request) === recordedKey) return answer(res, 202, envelope('api.user.delete.batch', 202, { response: 'SUCCESS', jobId, total: 2 }), { 'idempotent-replayed': 'true' })
      accept(res, randomUUID(), 2)
    })
    const { path } = idsFile(2)

    const first = await runCli(['--file', path, '--url', service.url, '--give-up-after', '2'], CREDENTIALS)
    const printedKey = /--idempotency-key ([0-9a-f-]{36})/.exec(first.out)?.[1]
    expect(printedKey, first.out).toBeDefined()
    expect(first.code).toBe(2)

    down = false
    const again = await runCli(['--file', path, '--url', service.url, '--idempotency-key', printedKey ?? ''], CREDENTIALS)

    expect(new Set(submitsTo(service).map(keyOf))).toEqual(new Set([recordedKey]))
    expect(again.out).toContain(`submitted job ${jobId} (2 ids, recorded already under this --idempotency-key); follow again with --job ${jobId}`)
    expect(service.requests.filter((r) => r.path === STATUS).every((r) => requestOf(r).jobId === jobId)).toBe(true)
    expect(again.out).toContain('done: 2 deleted, none failed, of 2')
    expect(again.code).toBe(0)
  }, 45_000)

  it('when --idempotency-key is given in capitals, then it is sent as printed (lower-case); with --job or not a UUID, it is refused up front without repeating it', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === SUBMIT ? accept(res, jobId, 1) : status(res, statusResult(jobId, 1))))
    const key = randomUUID()

    const upper = await runCli(['--file', idsFile(1).path, '--url', service.url, '--idempotency-key', key.toUpperCase()], CREDENTIALS)
    expect(submitsTo(service).map(keyOf)).toEqual([`${key}/1`])
    expect(upper.code).toBe(0)
    const sent = service.requests.length

    const withJob = await runCli(['--job', jobId, '--url', service.url, '--idempotency-key', key], CREDENTIALS, { limitMs: 10_000 })
    expect(withJob.out).toContain('--idempotency-key goes with the --file')
    expect(withJob.code).toBe(2)
    const notKey = await runCli(['--file', idsFile(1).path, '--url', service.url, '--idempotency-key', 'eyJsecret'], CREDENTIALS, { limitMs: 10_000 })
    expect(notKey.out).toContain('--idempotency-key takes the key this CLI printed (a UUID)')
    expect(notKey.out).not.toContain('eyJsecret')
    expect(notKey.code).toBe(2)
    expect(service.requests).toHaveLength(sent)
  }, 45_000)

  it('when the service never answers a submit, then it is asked again with the same key for --give-up-after seconds, then the CLI exits 2 saying the job may have been recorded', async () => {
    const service = await stub((_request, res) => res.socket?.destroy())
    const started = Date.now()

    const { code, out } = await runCli(['--file', idsFile(2).path, '--url', service.url, '--give-up-after', '3'], CREDENTIALS)

    const keys = submitsTo(service).map(keyOf)
    expect(keys.length).toBeGreaterThanOrEqual(2)
    expect(new Set(keys).size).toBe(1)
    expect(out).toContain('trying again in')
    expect(out).toContain('the service may still have recorded that job')
    expect(out).not.toContain('nothing was submitted')
    expect(out).toContain('2 of 2 ids may or may not have been submitted')
    expect(out).toContain(`--idempotency-key ${runKeyOf(submitsTo(service)[0] as StubRequest)}`)
    expect(out).not.toMatch(STACK)
    expect(code).toBe(2)
    // Bounded by --give-up-after, not by a count of tries (tsx's start-up included).
    expect(Date.now() - started).toBeLessThan(15_000)
  }, 30_000)
})

describe('when the submit is answered with something other than an accepted job, then it is not tried again, the job it may stand for is said, and it exits 2', () => {
  const answers: [string, (res: ServerResponse) => void][] = [
    ['a 200 HTML page (--url names a web site)', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Portal</body></html>')],
    ['a 202 without a job id', (res) => answer(res, 202, envelope('api.user.delete.batch', 202, { response: 'SUCCESS' }))],
  ]
  it.each(answers)(
    '%s',
    async (_name, misanswer) => {
      const service = await stub((_request, res) => misanswer(res))
      const { code, out } = await runCli(['--file', idsFile(2).path, '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
      expect(out).toContain(`not a batch answer from ${service.url}${SUBMIT}`)
      expect(out).toContain('2 of 2 ids may or may not have been submitted')
      expect(out).toContain('--idempotency-key ')
      expect(out).not.toMatch(STACK)
      expect(code).toBe(2)
      expect(service.requests).toHaveLength(1)
    },
    15_000,
  )
})

describe('on a terminal, the progress bar is stopped (the cursor shown again) on every way out', () => {
  it('when the user token expires mid-job (401), then it stops the bar, says why and exits 2', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((request, res) => {
      if (request.path === SUBMIT) return accept(res, jobId, 4)
      polls += 1
      if (polls === 1) return status(res, statusResult(jobId, 4, 1))
      answer(res, 401, { ...envelope('api.user.delete.batch.status', 401, {}), params: { err: 'UOS_0070', errmsg: 'unauthorized', status: 'FAILED' } })
    })
    const { code, out } = await runCli(['--file', idsFile(4).path, '--url', service.url], CREDENTIALS, { tty: true })
    expect(out).toContain(HIDE_CURSOR)
    expect(out.lastIndexOf(SHOW_CURSOR)).toBeGreaterThan(out.lastIndexOf(HIDE_CURSOR))
    expect(out).toContain(`status of job ${jobId} refused: 401 UOS_0070 unauthorized`)
    expect(out).toContain(`the jobs go on without this CLI: follow again with --job ${jobId}`)
    expect(code).toBe(2)
  }, 30_000)

  it('when the status of one of two jobs followed is refused (403), then it says why and names both jobs to follow again', async () => {
    const [running, refused] = [randomUUID(), randomUUID()]
    const service = await stub((request, res) =>
      requestOf(request).jobId === refused
        ? answer(res, 403, { ...envelope('api.user.delete.batch.status', 403, {}), params: { err: 'FORBIDDEN', errmsg: 'forbidden', status: 'FAILED' } })
        : status(res, statusResult(running, 4, 1)),
    )
    const { code, out } = await runCli(['--job', `${running},${refused}`, '--url', service.url], CREDENTIALS, { tty: true })
    expect(out.lastIndexOf(SHOW_CURSOR)).toBeGreaterThanOrEqual(out.lastIndexOf(HIDE_CURSOR))
    expect(out).toContain(`status of job ${refused} refused: 403 FORBIDDEN forbidden`)
    expect(out).toContain(`the jobs go on without this CLI: follow again with --job ${running},${refused}`)
    expect(code).toBe(2)
  }, 30_000)

  it('when a job followed is not known to the service (404 UOS_USRDLT0101), then it says the job was not found, gives no advice to follow it again, names the other jobs to follow, and exits 2', async () => {
    const [running, unknown] = [randomUUID(), randomUUID()]
    const service = await stub((request, res) =>
      requestOf(request).jobId === unknown
        ? answer(res, 404, { ...envelope('api.user.delete.batch.status', 404, {}), responseCode: 'RESOURCE_NOT_FOUND', params: { err: 'UOS_USRDLT0101', errmsg: 'batch job', status: 'FAILED' } })
        : status(res, statusResult(running, 4, 1)),
    )
    const alone = await runCli(['--job', unknown, '--url', service.url], CREDENTIALS)
    expect(alone.out).toContain(`job ${unknown} not found at ${service.url}: 404 UOS_USRDLT0101 batch job`)
    expect(alone.out).not.toContain('follow again')
    expect(alone.out).not.toContain('go on')
    expect(alone.code).toBe(2)
    const withAnother = await runCli(['--job', `${running},${unknown}`, '--url', service.url], CREDENTIALS, { tty: true })
    expect(withAnother.out.lastIndexOf(SHOW_CURSOR)).toBeGreaterThanOrEqual(withAnother.out.lastIndexOf(HIDE_CURSOR))
    expect(withAnother.out).toContain(`job ${unknown} not found`)
    expect(withAnother.out).toContain(`the other jobs go on without this CLI: follow them again with --job ${running}\n`)
    expect(withAnother.out).not.toContain(`--job ${running},${unknown}`)
    expect(withAnother.code).toBe(2)
  }, 30_000)

  it('when the operator presses Ctrl-C, then it stops the bar, says how to follow again, and exits 130', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === SUBMIT ? accept(res, jobId, 4) : status(res, statusResult(jobId, 4, 1))))
    let interrupted = false
    const { code, out } = await runCli(['--file', idsFile(4).path, '--url', service.url], CREDENTIALS, {
      tty: true,
      onOutput: (sofar, signal) => {
        if (!interrupted && sofar.includes('1/4')) {
          interrupted = true
          signal('SIGINT')
        }
      },
    })
    expect(interrupted).toBe(true)
    expect(out.lastIndexOf(SHOW_CURSOR)).toBeGreaterThan(out.lastIndexOf(HIDE_CURSOR))
    expect(out).toContain(`follow again with --job ${jobId}`)
    expect(code).toBe(130)
  }, 30_000)
})

describe('when the operator presses Ctrl-C before following, then it says where things stand and exits 130', () => {
  const keyOf = (request: StubRequest) => String(request.headers['idempotency-key'])

  it('when a submit is being retried against a service that is down (nothing could be recorded), then it says nothing was submitted', async () => {
    let interrupted = false
    const { code, out } = await runCli(['--file', idsFile(2).path, '--url', await deadUrl()], CREDENTIALS, {
      onOutput: (sofar, signal) => {
        if (!interrupted && sofar.includes('trying again in')) {
          interrupted = true
          signal('SIGINT')
        }
      },
    })
    expect(interrupted).toBe(true)
    expect(out).toContain('interrupted; nothing was submitted')
    expect(out).not.toContain('--idempotency-key')
    expect(code).toBe(130)
  }, 30_000)

  it('when a submit is in flight after a job was submitted, then it names that job to follow, says the ids in flight may have been recorded, and prints the key to submit them again safely', async () => {
    const jobId = randomUUID()
    // The first job is accepted; the second submit is never answered.
    let submits = 0
    const service = await stub((_request, res) => {
      submits += 1
      if (submits === 1) accept(res, jobId, 1000)
    })
    const { path } = idsFile(1001)
    let signal: ((name: NodeJS.Signals) => void) | undefined
    const run = runCli(['--file', path, '--url', service.url], CREDENTIALS, { onStart: (send) => (signal = send) })
    await service.arrived(2)
    signal?.('SIGINT')
    const { code, out } = await run

    const runKey = keyOf(service.requests[1] as StubRequest).split('/')[0]
    expect(out).toContain(`interrupted; 1 job(s) were submitted and go on: follow them with --job ${jobId}`)
    expect(out).toContain(`1 of 1001 ids may or may not have been submitted: the ones from line 1001 of ${path} on`)
    expect(out).toContain(`run the same command again with --idempotency-key ${runKey}:`)
    expect(out).not.toMatch(STACK)
    expect(code).toBe(130)
  }, 30_000)

  it('when a cancel is being retried, then it says to cancel again with the --job, and that a cancel done twice changes nothing', async () => {
    const jobId = randomUUID()
    const service = await stub((_request, res) => answer(res, 503, envelope('api.user.delete.batch.cancel', 503, {}), { 'retry-after': '5' }))
    let interrupted = false
    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS, {
      onOutput: (sofar, signal) => {
        if (!interrupted && sofar.includes('trying again in')) {
          interrupted = true
          signal('SIGINT')
        }
      },
    })
    expect(interrupted).toBe(true)
    expect(out).toContain(`interrupted; a cancel may not have gone through: cancel again with --job ${jobId} --cancel (a cancel done twice changes nothing)`)
    expect(code).toBe(130)
  }, 30_000)
})

describe('a job named twice in --job, in either letter case (the service reads job ids so), is one job: sent lower-case, followed and counted once', () => {
  it('when --job gives an id and the same id in capitals, then each poll asks for it once, lower-case, and the counts are its own', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => status(res, statusResult(requestOf(request).jobId ?? '', 12)))
    const { code, out } = await runCli(['--job', `${jobId},${jobId.toUpperCase()}`, '--url', service.url], CREDENTIALS)
    expect(service.requests.map((request) => requestOf(request).jobId)).toEqual([jobId])
    expect(out).toMatch(/^progress 100% 12\/12 /m)
    expect(out).toContain('done: 12 deleted, none failed, of 12')
    expect(code).toBe(0)
  }, 30_000)
})

describe('when no try can get through (fetch blocks the port, the TLS handshake or certificate fails), then it stops at once with exit 2, without the may-have-recorded hint', () => {
  /** A port the Fetch standard blocks: fetch refuses it before connecting, whatever listens there. */
  const BAD_PORT_URL = 'http://127.0.0.1:6000'

  it('when --url names a port fetch blocks, then the submit is not tried again and the line names the port and --url', async () => {
    const { code, out } = await runCli(['--file', idsFile(2).path, '--url', BAD_PORT_URL, '--give-up-after', '30'], CREDENTIALS, { limitMs: 15_000 })
    expect(out).toContain(`cannot reach ${BAD_PORT_URL} (bad port): Node's fetch never connects to port 6000`)
    expect(out).toContain('--url')
    expect(out).not.toContain('may still have recorded')
    expect(out).not.toContain('trying again')
    expect(out).toContain('nothing was submitted')
    expect(out).not.toMatch(STACK)
    expect(code).toBe(2)
  }, 20_000)

  it('when --url is https but the service speaks plain http, then the submit is not tried again, nothing reached the service, and it says to give http://', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const url = service.url.replace(/^http:/, 'https:')
    const { code, out } = await runCli(['--file', idsFile(2).path, '--url', url, '--give-up-after', '30'], CREDENTIALS, { limitMs: 15_000 })
    expect(out).toContain(`cannot reach ${url} (ERR_SSL_WRONG_VERSION_NUMBER): the TLS handshake failed`)
    expect(out).toContain('http://')
    expect(out).not.toContain('may still have recorded')
    expect(out).not.toContain('trying again')
    expect(code).toBe(2)
    expect(service.requests).toHaveLength(0)
  }, 20_000)

  it.each([
    ['a port fetch blocks', () => Promise.resolve(BAD_PORT_URL), 'bad port'],
    ['https to a plain http service', async () => (await stub((_request, res) => res.writeHead(500).end())).url.replace(/^http:/, 'https:'), 'ERR_SSL_WRONG_VERSION_NUMBER'],
  ])(
    'when following, %s is said once, at once, with the --job to follow again',
    async (_name, urlOf, why) => {
      const jobId = randomUUID()
      const url = await urlOf()
      const { code, out } = await runCli(['--job', jobId, '--url', url, '--give-up-after', '30'], CREDENTIALS, { limitMs: 15_000 })
      expect(count(out, `cannot reach ${url} (${why})`)).toBe(1)
      expect(out).toContain(`follow again with --job ${jobId}`)
      expect(out).not.toContain('is not answering')
      expect(code).toBe(2)
    },
    20_000,
  )
})

describe('how a call that got no answer is read: whether it left, and whether another try could help', () => {
  const BASE = 'https://deletion.example.org:9443'
  /** An error as fetch throws it: TypeError('fetch failed') over the socket's error. */
  const fetchFailed = (code: string, message = 'handshake') => new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) })

  it('when fetch refuses the port (its own TypeError, cause "bad port"), then nothing was sent and no retry helps', async () => {
    const err = await fetch('http://127.0.0.1:6000/').then(
      () => undefined,
      (e: unknown) => e,
    )
    const answer = noAnswer(err, 15_000, 'http://127.0.0.1:6000')
    expect(answer).toMatchObject({ kind: 'none', why: 'bad port', notSent: true })
    expect(answer.kind === 'none' && answer.misconfigured).toContain('port 6000')
  })

  it.each([
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'EPROTO',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_HAS_EXPIRED',
    'ERR_TLS_CERT_ALTNAME_INVALID',
  ])('when the TLS handshake fails with %s, then nothing was sent and it names what to change', (code) => {
    const answer = noAnswer(fetchFailed(code), 15_000, BASE)
    expect(answer).toMatchObject({ kind: 'none', why: code, notSent: true })
    expect(answer.kind === 'none' && answer.misconfigured).toMatch(/TLS/)
  })

  it.each([
    ['ECONNREFUSED', true],
    ['ENOTFOUND', true],
    ['ECONNRESET', false],
    ['UND_ERR_SOCKET', false],
  ])('when the connection fails with %s, then it is tried again (notSent %s), as before', (code, notSent) => {
    const answer = noAnswer(fetchFailed(code, 'socket'), 15_000, BASE)
    expect(answer).toEqual({ kind: 'none', why: code, notSent })
  })

  it('when the cause is another message (a refused header value, say), then it is not read as a bad port, nor shown', () => {
    const answer = noAnswer(new TypeError('fetch failed', { cause: new Error('eyJsecret is not a legal HTTP header value') }), 15_000, BASE)
    expect(answer).toEqual({ kind: 'none', why: 'no connection', notSent: false })
  })
})

describe('when the command line holds something it does not take, then it is refused with exit 2 without repeating it', () => {
  const SECRET = 'eyJhbGciOiJIUzI1NiJ9.secret.sig'
  const cases: [string, (path: string) => string[], string][] = [
    ['a stray argument (a token pasted after --file)', (path) => ['--file', path, SECRET], 'unexpected argument (not shown): every value follows its flag, e.g. --file ids.txt'],
    ['a value after --', (path) => ['--file', path, '--', SECRET], 'unexpected argument (not shown)'],
    ['an unknown option with a value in it', (path) => ['--file', path, `--token=${SECRET}`], "unknown option '--token'"],
    ['a token pasted as an option', (path) => ['--file', path, `--${SECRET}`], 'unknown option (not shown)'],
    ['a value given to --dry-run', (path) => ['--file', path, `--dry-run=${SECRET}`], '--dry-run takes no value'],
  ]
  it.each(cases)(
    '%s',
    async (_name, args, said) => {
      const service = await stub((_request, res) => res.writeHead(500).end())
      const { code, out } = await runCli([...args(idsFile(1).path), '--url', service.url], CREDENTIALS, { limitMs: 10_000 })
      expect(out).toContain(said)
      expect(out).toContain('usage: npm run deletion:batch')
      expect(out).not.toContain('secret')
      expect(out).not.toContain('eyJ')
      expect(code).toBe(2)
      expect(service.requests).toHaveLength(0)
    },
    15_000,
  )
})

describe('a user listed both as <id> and as f:<provider>:<id> is one user, as the service reads it: sent once, in the form first listed', () => {
  function fileOf(lines: string[]): string {
    const path = join(dir, `${randomUUID()}.txt`)
    writeFileSync(path, `${lines.join('\n')}\n`)
    return path
  }

  it('when a file lists a user in both forms, then readIds keeps the first form and its line', () => {
    const [a, b] = [randomUUID(), randomUUID()]
    const path = fileOf([`f:sunbird-fed:${a}`, b, a, `f:sunbird-fed:${b}`, `f:other:${a}`])
    expect(readIds(path)).toEqual({ path, ids: [`f:sunbird-fed:${a}`, b], lines: [1, 2] })
  })

  it('when --dry-run reads such a file, then it counts users, not lines', async () => {
    const id = randomUUID()
    const { code, out } = await runCli(['--file', fileOf([id, `f:sunbird-fed:${id}`]), '--dry-run'], CREDENTIALS, { limitMs: 10_000 })
    expect(out).toContain('dry run: 1 distinct ids in 1 job(s)')
    expect(code).toBe(0)
  }, 15_000)

  it('when the federated form of the first of 1000 users comes on line 1001, then one job of 1000 is submitted, not a second of one that would fail', async () => {
    const ids = Array.from({ length: 1000 }, () => randomUUID())
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === SUBMIT ? accept(res, jobId, 1000) : status(res, statusResult(jobId, 1000))))
    const { code, out } = await runCli(['--file', fileOf([...ids, `f:sunbird-fed:${ids[0]}`]), '--url', service.url], CREDENTIALS)
    const submits = service.requests.filter((r) => r.path === SUBMIT).map((r) => requestOf(r).userIds)
    expect(submits).toEqual([ids])
    expect(out).toContain('done: 1000 deleted, none failed, of 1000')
    expect(code).toBe(0)
  }, 30_000)
})

describe('npm run deletion:batch -- --job <id> --cancel', () => {
  /** A cancelled job of 3 users: 1 deleted before the cancel, 2 spared, all settled. */
  const cancelledStatus = (jobId: string) => ({
    ...statusResult(jobId, 3),
    state: 'cancelled',
    succeeded: 1,
    cancelled: 2,
    outcomes: [
      { userId: randomUUID(), status: 'deleted' },
      { userId: randomUUID(), status: 'cancelled' },
      { userId: randomUUID(), status: 'cancelled' },
    ],
  })

  it('when the job is not known to the service (404 UOS_USRDLT0101), then it says the job was not found at --url and what to check, as a follow does, and exits 2 without following', async () => {
    const jobId = randomUUID()
    const service = await stub((_request, res) =>
      answer(res, 404, { ...envelope('api.user.delete.batch.cancel', 404, {}), responseCode: 'RESOURCE_NOT_FOUND', params: { err: 'UOS_USRDLT0101', errmsg: 'batch job', status: 'FAILED' } }),
    )

    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS, { limitMs: 10_000 })

    expect(out).toBe(`job ${jobId} not found at ${service.url}: 404 UOS_USRDLT0101 batch job\ncheck the job id and --url (the service that answered has no such job)\nno job was cancelled\n`)
    expect(service.requests.map((request) => request.path)).toEqual([CANCEL])
    expect(code).toBe(2)
  }, 15_000)

  it('when the job is cancelled (by a service older than alreadyCancelled, as during an upgrade: the answer has no such field), then it says so, follows the job until its last users are settled, counts those spared apart, and exits 1', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === CANCEL ? cancelAnswer(res, jobId, 'cancelled') : status(res, cancelledStatus(jobId))))

    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS)

    expect(service.requests[0]?.path).toBe(CANCEL)
    expect(requestOf(service.requests[0] as StubRequest)).toEqual({ jobId })
    expect(out).toContain(`cancelled job ${jobId}: no deletion of its users begins any more`)
    expect(out).toMatch(/^progress 100% 3\/3 .* cancelled 2$/m)
    expect(out).toContain('done: 1 deleted, none failed, 2 cancelled (not deleted), of 3')
    expect(code).toBe(1)
  }, 30_000)

  it('when the service says this call recorded the cancel (alreadyCancelled false), then it says the job is cancelled, as it always did', async () => {
    const jobId = randomUUID()
    const recorded = { alreadyCancelled: false, cancelledAt: '2026-12-07T10:08:56.790Z' }
    const service = await stub((request, res) => (request.path === CANCEL ? cancelAnswer(res, jobId, 'cancelled', recorded) : status(res, cancelledStatus(jobId))))

    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS)

    expect(out).toContain(`cancelled job ${jobId}: no deletion of its users begins any more; one under way finishes`)
    expect(out).not.toContain('already cancelled')
    expect(code).toBe(1)
  }, 30_000)

  it('when the service says an earlier cancel had been recorded (alreadyCancelled true), then it says the job was already cancelled and when, not that this run cancelled it; it follows the job as any other', async () => {
    const jobId = randomUUID()
    const recorded = { alreadyCancelled: true, cancelledAt: '2026-12-07T10:08:56.790Z' }
    const service = await stub((request, res) => (request.path === CANCEL ? cancelAnswer(res, jobId, 'cancelled', recorded) : status(res, cancelledStatus(jobId))))

    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS)

    expect(out).toContain(`job ${jobId} was already cancelled at 2026-12-07T10:08:56.790Z: no deletion of its users begins any more; one under way finishes`)
    expect(out).not.toContain(`cancelled job ${jobId}`)
    expect(out).toContain('done: 1 deleted, none failed, 2 cancelled (not deleted), of 3')
    expect(code).toBe(1)
  }, 30_000)

  it('when --job gives an id and the same id in capitals, then the job is cancelled once, lower-case, said once and counted once', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === CANCEL ? cancelAnswer(res, jobId, 'cancelled') : status(res, cancelledStatus(jobId))))

    const { code, out } = await runCli(['--job', `${jobId.toUpperCase()},${jobId}`, '--cancel', '--url', service.url], CREDENTIALS)

    expect(service.requests.filter((request) => request.path === CANCEL).map((request) => requestOf(request).jobId)).toEqual([jobId])
    expect(count(out, `cancelled job ${jobId}`)).toBe(1)
    expect(out).toContain('done: 1 deleted, none failed, 2 cancelled (not deleted), of 3')
    expect(code).toBe(1)
  }, 30_000)

  it('when every user of the job was settled already, then it says nothing was cancelled, and the exit code is the job’s own', async () => {
    const jobId = randomUUID()
    const service = await stub((request, res) => (request.path === CANCEL ? cancelAnswer(res, jobId, 'completed') : status(res, statusResult(jobId, 2))))

    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS)

    expect(out).toContain(`job ${jobId} had settled every user already: nothing was cancelled`)
    expect(out).toContain('done: 2 deleted, none failed, of 2')
    expect(code).toBe(0)
  }, 30_000)

  it('when the cancel is refused (403), then it says so with the code, follows nothing and exits 2', async () => {
    const jobId = randomUUID()
    const service = await stub((_request, res) => res.writeHead(403, { 'content-type': 'text/plain' }).end(errorEntry('FORBIDDEN').errmsg))

    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS)

    // A plain-text refusal has no err: one space between the status and the message, none doubled.
    expect(out).toContain(`cancel of job ${jobId} refused: 403 ${errorEntry('FORBIDDEN').errmsg}\n`)
    expect(out).toContain('no job was cancelled')
    expect(service.requests.map((request) => request.path)).toEqual([CANCEL])
    expect(code).toBe(2)
  }, 30_000)

  it('when the service answers a 503 first, then the cancel is asked again, and goes through', async () => {
    const jobId = randomUUID()
    let cancels = 0
    const service = await stub((request, res) => {
      if (request.path !== CANCEL) return status(res, cancelledStatus(jobId))
      cancels += 1
      if (cancels === 1) return answer(res, 503, envelope('api.user.delete.batch.cancel', 503, {}), { 'retry-after': '1' })
      cancelAnswer(res, jobId, 'cancelled')
    })

    const { code, out } = await runCli(['--job', jobId, '--cancel', '--url', service.url], CREDENTIALS)

    expect(cancels).toBe(2)
    expect(out).toContain('trying again in 1s')
    expect(out).toContain(`cancelled job ${jobId}`)
    expect(code).toBe(1)
  }, 30_000)

  it('when --cancel comes without --job (with a --file, or alone), then nothing is sent and it says what --cancel takes', async () => {
    const service = await stub((_request, res) => res.writeHead(500).end())
    const { path } = idsFile(1)

    for (const args of [['--file', path, '--cancel'], ['--cancel']]) {
      const { code, out } = await runCli([...args, '--url', service.url], CREDENTIALS)
      expect(out).toContain('--cancel stops the jobs named with --job')
      expect(code).toBe(2)
    }
    expect(service.requests).toEqual([])
  }, 30_000)
})

describe("a job listing the caller's own account, which the service deletes last, once every other id is settled (that deletion locks the caller out: 401)", () => {
  const own = randomUUID()
  const [first, second] = [randomUUID(), randomUUID()]
  // A user token naming `own` as Sunbird's do (f:<provider>:<id>); the CLI reads its subject, never verifies it.
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const ownCredentials = { API_BEARER: 'test-api-bearer', USER_TOKEN: `${segment({ alg: 'RS256' })}.${segment({ sub: `f:provider-1:${own}` })}.signature` }
  const refused = (res: ServerResponse) => answer(res, 401, { ...envelope('api.user.delete.batch.status', 401, {}), params: { err: 'UOS_0070', errmsg: 'You are not authorized.', status: 'FAILED' } })
  const forbidden = (userId: string) => ({ userId, status: 'failed', err: 'FORBIDDEN' })
  const pendingOne = (userId: string) => ({ userId, status: 'pending' })
  const running = (jobId: string, outcomes: unknown[], done: number) => ({ ...statusResult(jobId, 3, done), succeeded: 0, failed: done > 0 ? { FORBIDDEN: done } : {}, outcomes })

  it('when a poll read every other id settled and the own account pending, then the 401 after it is the job’s end: the failures are listed, the last lines count the own account deleted and say the job deleted it, and the exit code is the usual one (1: ids failed), with no advice to follow again', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((_request, res) => {
      polls += 1
      return polls === 1 ? status(res, running(jobId, [pendingOne(own), forbidden(first), forbidden(second)], 2)) : refused(res)
    })
    const { code, out } = await runCli(['--job', jobId, '--url', service.url], ownCredentials)
    expect(out).toContain(`failed ${first} FORBIDDEN`)
    expect(out).toContain(`failed ${second} FORBIDDEN`)
    expect(out).toContain('done: 1 deleted, FORBIDDEN=2 failed, of 3')
    expect(out).toContain(
      `the last act of job ${jobId} is deleting your own account (${own}), once every other id is settled: the 401 right after the status read showing that says your account is deleted`,
    )
    expect(out).not.toContain('follow again')
    expect(out).not.toContain('refused')
    expect(code).toBe(1)
  }, 30_000)

  it('when the 401 comes while other ids were still pending at the last poll, then it is not taken for the own deletion (the service deletes it only after them): it says a credential is likely no longer accepted, to follow again with --job, and exits 2', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((_request, res) => {
      polls += 1
      return polls === 1 ? status(res, running(jobId, [pendingOne(own), forbidden(first), pendingOne(second)], 1)) : refused(res)
    })
    const { code, out } = await runCli(['--job', jobId, '--url', service.url], ownCredentials)
    expect(out).toContain(`status of job ${jobId} refused: 401 UOS_0070 You are not authorized.`)
    expect(out).toContain(
      `job ${jobId} lists your own account (${own}), deleted only once every other id is settled, and some were still pending at the last read: this refusal is most likely not that deletion`,
    )
    expect(out).toContain(`the jobs go on without this CLI: follow again with --job ${jobId}`)
    expect(out).not.toContain('deleting your own account')
    expect(code).toBe(2)
  }, 30_000)

  it('when the 401 comes after a poll read every other id settled but the USER_TOKEN has expired, then it says the token expired and to follow again with a fresh one and --job, exit 2, not that the job deleted the account', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((_request, res) => {
      polls += 1
      return polls === 1 ? status(res, running(jobId, [pendingOne(own), forbidden(first), forbidden(second)], 2)) : refused(res)
    })
    // Expired a few seconds ago, within the service's clock skew (60 s): the CLI still sends it, and the 401 is that expiry.
    const expired = { ...ownCredentials, USER_TOKEN: `${segment({ alg: 'RS256' })}.${segment({ sub: `f:provider-1:${own}`, exp: Math.floor(Date.now() / 1000) - 5 })}.signature` }
    const { code, out } = await runCli(['--job', jobId, '--url', service.url], expired)
    expect(out).toMatch(/your USER_TOKEN expired at \S+: the jobs go on without this CLI: follow again with a fresh USER_TOKEN and --job /)
    expect(out).toContain(`--job ${jobId}`)
    expect(out).not.toContain('your own account')
    expect(out).not.toContain('done:')
    expect(code).toBe(2)
  }, 30_000)

  it('when the 401 comes after a poll read every other id settled and the job paused (the last other id’s fault opened its breaker), then it is still the own deletion: the own account waits for the breaker, its deletion is the probe that ends the cool-off, and the job reads running only after it has locked the caller out', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((_request, res) => {
      polls += 1
      return polls === 1 ? status(res, { ...running(jobId, [pendingOne(own), forbidden(first), forbidden(second)], 2), state: 'paused' }) : refused(res)
    })
    const { code, out } = await runCli(['--job', jobId, '--url', service.url], ownCredentials)
    expect(out).toContain('done: 1 deleted, FORBIDDEN=2 failed, of 3')
    expect(out).toContain(`the last act of job ${jobId} is deleting your own account (${own})`)
    expect(out).not.toContain('follow again')
    expect(code).toBe(1)
  }, 30_000)

  it('when the 401 comes after a poll read every other id settled but the job cancelled, then it is not taken for the own deletion (a cancelled job deletes nothing): a refusal as any other, follow again with --job, exit 2', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((_request, res) => {
      polls += 1
      return polls === 1 ? status(res, { ...running(jobId, [pendingOne(own), forbidden(first), forbidden(second)], 2), state: 'cancelled' }) : refused(res)
    })
    const { code, out } = await runCli(['--job', jobId, '--url', service.url], ownCredentials)
    expect(out).toContain(`the jobs go on without this CLI: follow again with --job ${jobId}`)
    expect(out).not.toContain('deleting your own account')
    expect(out).not.toContain('done:')
    expect(code).toBe(2)
  }, 30_000)

  it('when the token is refused (401) for a job that does not list the own account, then it is a refusal as before: follow again with --job, exit 2', async () => {
    const jobId = randomUUID()
    let polls = 0
    const service = await stub((_request, res) => {
      polls += 1
      return polls === 1 ? status(res, running(jobId, [pendingOne(randomUUID()), forbidden(first), forbidden(second)], 2)) : refused(res)
    })
    const { code, out } = await runCli(['--job', jobId, '--url', service.url], ownCredentials)
    expect(out).toContain(`the jobs go on without this CLI: follow again with --job ${jobId}`)
    expect(code).toBe(2)
  }, 30_000)
})

describe("a file of several jobs listing the caller's own id: it goes in the last job, submitted only once every other job is settled (deleting it locks the caller out of any job still running)", () => {
  const own = randomUUID()
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const ownCredentials = { API_BEARER: 'test-api-bearer', USER_TOKEN: `${segment({ alg: 'RS256' })}.${segment({ sub: `f:provider-1:${own}` })}.signature` }
  const keyOf = (request: StubRequest) => String(request.headers['idempotency-key'])

  /** A file of `count` ids, the caller's own on line `ownLine` (one id a line). */
  function fileWithOwn(count: number, ownLine: number): { path: string; ids: string[] } {
    const ids = Array.from({ length: count }, (_, index) => (index === ownLine - 1 ? own : randomUUID()))
    const path = join(dir, `${randomUUID()}.txt`)
    writeFileSync(path, `${ids.join('\n')}\n`)
    return { path, ids }
  }

  /**
   * A service keeping the jobs submitted to it (a key seen again replays its job): a job without the
   * own account settles (every user deleted) once `settles()` says so at a status read, or reads
   * cancelled (every user spared) once `cancels()` does, as when someone cancels it; the job listing
   * it reads every other user deleted and it pending, then the deletion of the caller's account refuses every read (401).
   * `events`: each submit (`submit <key>`) and each first read of a job settled (`settled <jobId>`) or cancelled (`cancelled <jobId>`), in order.
   */
  async function jobsService(settles: () => boolean, cancels: () => boolean = () => false) {
    const jobs = new Map<string, { userIds: string[]; settled: boolean; ownRead: boolean; cancelled?: boolean }>()
    const byKey = new Map<string, string>()
    const events: string[] = []
    const service = await stub((request, res) => {
      if (request.path === SUBMIT) {
        const key = keyOf(request)
        events.push(`submit ${key}`)
        const known = byKey.get(key)
        const userIds = requestOf(request).userIds ?? []
        if (known) return answer(res, 202, envelope('api.user.delete.batch', 202, { response: 'SUCCESS', jobId: known, total: userIds.length }), { 'idempotent-replayed': 'true' })
        const jobId = randomUUID()
        byKey.set(key, jobId)
        jobs.set(jobId, { userIds, settled: false, ownRead: false })
        return accept(res, jobId, userIds.length)
      }
      const jobId = requestOf(request).jobId ?? ''
      const job = jobs.get(jobId)
      if (!job) return answer(res, 404, { ...envelope('api.user.delete.batch.status', 404, {}), params: { err: 'UOS_USRDLT0101', errmsg: 'batch job', status: 'FAILED' } })
      const total = job.userIds.length
      if (job.userIds.includes(own)) {
        if (job.ownRead) return answer(res, 401, { ...envelope('api.user.delete.batch.status', 401, {}), params: { err: 'UOS_0070', errmsg: 'You are not authorized.', status: 'FAILED' } })
        job.ownRead = true
        const outcomes = job.userIds.map((userId) => ({ userId, status: userId === own ? 'pending' : 'deleted' }))
        return status(res, { ...statusResult(jobId, total, total - 1), outcomes })
      }
      if (!job.settled && cancels()) {
        job.settled = true
        job.cancelled = true
        events.push(`cancelled ${jobId}`)
      }
      if (!job.settled && settles()) {
        job.settled = true
        events.push(`settled ${jobId}`)
      }
      if (job.cancelled) return status(res, { ...statusResult(jobId, total), state: 'cancelled', succeeded: 0, cancelled: total })
      status(res, statusResult(jobId, total, job.settled ? total : 0))
    })
    return { service, events, bodyOf: (key: string) => requestOf(service.requests.find((r) => r.path === SUBMIT && keyOf(r) === key) as StubRequest).userIds }
  }

  it('when a file of 1500 ids lists the own id on line 3, then the first job takes 1000 others, the last the other 499 and the own id, submitted only after a read showed the first settled; the CLI follows both to the own deletion and exits 0', async () => {
    let reads = 0
    const { service, events, bodyOf } = await jobsService(() => ++reads >= 2)
    const { path, ids } = fileWithOwn(1500, 3)

    const { code, out } = await runCli(['--file', path, '--url', service.url], ownCredentials)

    const others = ids.filter((id) => id !== own)
    const [first, last] = events.filter((event) => event.startsWith('submit ')).map((event) => event.slice('submit '.length))
    expect(bodyOf(first ?? '')).toEqual(others.slice(0, 1000))
    expect(bodyOf(last ?? '')).toEqual([...others.slice(1000), own])
    const firstJob = /submitted job ([0-9a-f-]{36}) \(1000 ids\)/.exec(out)?.[1]
    expect(events).toEqual([`submit ${first}`, `settled ${firstJob}`, `submit ${last}`])
    expect(out).toContain(`your own id (line 3 of ${path}) goes in the last job, submitted once job(s) ${firstJob} are settled`)
    expect(out).toContain('done: 1500 deleted, none failed, of 1500')
    expect(out).toMatch(new RegExp(`the last act of job [0-9a-f-]{36} is deleting your own account \\(${own}\\)`))
    expect(out).not.toContain('the jobs go on without this CLI')
    expect(code).toBe(0)
  }, 30_000)

  it('when the first submit is given up, its answer lost, then the run of lines it may have taken says the own id on a line inside it is not among them, held back for the last job; not said when the own line is outside', async () => {
    const service = await stub((_request, res) => answer(res, 503, { ...envelope('api.user.delete.batch', 503, {}), params: { err: 'UOS_USRDLT0064', errmsg: 'unavailable', status: 'FAILED' } }))
    const inside = fileWithOwn(1500, 3)
    const outside = fileWithOwn(1500, 1200)

    const spanning = await runCli(['--file', inside.path, '--url', service.url, '--give-up-after', '1'], ownCredentials)
    const beyond = await runCli(['--file', outside.path, '--url', service.url, '--give-up-after', '1'], ownCredentials)

    expect(spanning.out).toContain(
      `1000 of 1500 ids may or may not have been submitted: the ones from line 1 to line 1001 of ${inside.path}, except your own id, on line 3 (held back for the last job)\n`,
    )
    expect(spanning.out).toContain(`500 of 1500 ids were not submitted: the ones from line 1002 of ${inside.path} on, and your own id, on line 3\n`)
    expect(spanning.code).toBe(2)
    expect(beyond.out).toContain(`1000 of 1500 ids may or may not have been submitted: the ones from line 1 to line 1000 of ${outside.path}\n`)
    expect(beyond.out).not.toContain('except your own id')
    expect(beyond.code).toBe(2)
  }, 30_000)

  it('when --dry-run reads such a file, then it says the own id goes in the last job', async () => {
    const { path } = fileWithOwn(1001, 1)
    const { code, out } = await runCli(['--file', path, '--dry-run', '--url', await deadUrl()], ownCredentials)
    expect(out).toContain('dry run: 1001 distinct ids in 2 job(s) of at most 1000, your own id (line 1) in the last, submitted once the others are settled, mode')
    expect(code).toBe(0)
  })

  it('when Ctrl-C comes while the first jobs are followed, then it names them, says the own id was not submitted and prints the key; the same command with that key sends each job under the same key and ids, and submits the last once the others are settled', async () => {
    let settling = false
    const { service, events, bodyOf } = await jobsService(() => settling)
    const { path, ids } = fileWithOwn(1001, 1)
    let interrupted = false
    const first = await runCli(['--file', path, '--url', service.url], ownCredentials, {
      onOutput: (sofar, signal) => {
        if (!interrupted && sofar.includes('progress 0% 0/1000')) {
          interrupted = true
          signal('SIGINT')
        }
      },
    })
    const jobId = /submitted job ([0-9a-f-]{36}) \(1000 ids\)/.exec(first.out)?.[1]
    const runKey = /--idempotency-key ([0-9a-f-]{36})/.exec(first.out)?.[1]
    expect(first.out).toContain(`interrupted; the jobs go on: follow again with --job ${jobId} (add --cancel to stop them)`)
    expect(first.out).toContain(`1 of 1001 ids were not submitted: your own id, on line 1 of ${path}`)
    expect(first.out).toContain(`run the same command again with --idempotency-key ${runKey}:`)
    expect(first.code).toBe(130)
    expect(events).toEqual([`submit ${runKey}/1`])
    expect(bodyOf(`${runKey}/1`)).toEqual(ids.slice(1))

    settling = true
    const again = await runCli(['--file', path, '--url', service.url, '--idempotency-key', runKey ?? ''], ownCredentials)

    expect(again.out).toContain(`submitted job ${jobId} (1000 ids, recorded already under this --idempotency-key)`)
    expect(service.requests.filter((r) => r.path === SUBMIT && keyOf(r) === `${runKey}/1`).map((r) => requestOf(r).userIds)).toEqual([ids.slice(1), ids.slice(1)])
    expect(events.slice(1)).toEqual([`submit ${runKey}/1`, `settled ${jobId}`, `submit ${runKey}/2`])
    expect(bodyOf(`${runKey}/2`)).toEqual([own])
    expect(again.out).toContain('done: 1001 deleted, none failed, of 1001')
    expect(again.code).toBe(0)
  }, 45_000)

  it('when someone cancels the first job while the run follows it, then the last job, with the own id, is not submitted: it reports the first, says which job was cancelled and the key that submits the last all the same, and exits 2; that command submits it', async () => {
    let reads = 0
    const { service, events } = await jobsService(
      () => false,
      () => ++reads >= 2,
    )
    const { path } = fileWithOwn(1500, 3)

    const { code, out } = await runCli(['--file', path, '--url', service.url], ownCredentials)

    const jobId = /submitted job ([0-9a-f-]{36}) \(1000 ids\)/.exec(out)?.[1]
    const runKey = /--idempotency-key ([0-9a-f-]{36})/.exec(out)?.[1]
    expect(events).toEqual([`submit ${runKey}/1`, `cancelled ${jobId}`])
    expect(out).toContain('done: 0 deleted, none failed, 1000 cancelled (not deleted), of 1000')
    expect(out).toContain(
      `job ${jobId} was cancelled, and a cancel means stop: the last job, with your own id, was not submitted; to submit it all the same, run the same command again with --idempotency-key ${runKey} before 2024-05-21T09:08:56.812Z (the service answers the run's jobs' keys again until a day after it recorded the first; later, it would take the cancelled job as new and delete the users its cancel spared)`,
    )
    expect(out).toContain(`500 of 1500 ids were not submitted: the ones from line 1002 of ${path} on, and your own id, on line 3`)
    expect(code).toBe(2)

    const again = await runCli(['--file', path, '--url', service.url, '--idempotency-key', runKey ?? ''], ownCredentials)

    expect(events.slice(2)).toEqual([`submit ${runKey}/1`, `submit ${runKey}/2`])
    expect(again.out).toContain(`job ${jobId} was cancelled before this run: the last job, with your own id, is submitted all the same`)
    expect(again.out).toContain('done: 500 deleted, none failed, 1000 cancelled (not deleted), of 1500')
    expect(again.out).toMatch(new RegExp(`the last act of job [0-9a-f-]{36} is deleting your own account \\(${own}\\)`))
    expect(again.code).toBe(1)
  }, 45_000)

  it('when a job an earlier run recorded is cancelled while the run again under its key follows it, then the last job is not submitted either', async () => {
    let again = false
    let reads = 0
    const { service, events } = await jobsService(
      () => false,
      () => again && ++reads >= 2,
    )
    const { path } = fileWithOwn(1001, 1)
    let interrupted = false
    const first = await runCli(['--file', path, '--url', service.url], ownCredentials, {
      onOutput: (sofar, signal) => {
        if (!interrupted && sofar.includes('progress 0% 0/1000')) {
          interrupted = true
          signal('SIGINT')
        }
      },
    })
    const jobId = /submitted job ([0-9a-f-]{36}) \(1000 ids\)/.exec(first.out)?.[1]
    const runKey = /--idempotency-key ([0-9a-f-]{36})/.exec(first.out)?.[1]
    expect(first.code).toBe(130)

    again = true
    const { code, out } = await runCli(['--file', path, '--url', service.url, '--idempotency-key', runKey ?? ''], ownCredentials)

    expect(events).toEqual([`submit ${runKey}/1`, `submit ${runKey}/1`, `cancelled ${jobId}`])
    expect(out).toContain(`job ${jobId} was cancelled, and a cancel means stop: the last job, with your own id, was not submitted`)
    expect(out).toContain(`1 of 1001 ids were not submitted: your own id, on line 1 of ${path}`)
    expect(code).toBe(2)
  }, 45_000)
})

describe('an ids file is read up to a bound, so an endless one (/dev/zero) cannot hang the CLI', () => {
  it('when the file is larger than 16 MiB, then it is refused, saying to split it, with exit 2 and nothing sent', async () => {
    const path = join(dir, `${randomUUID()}.txt`)
    writeFileSync(path, '\n'.repeat(16 * 1024 * 1024 + 1))
    const { code, out } = await runCli(['--file', path, '--dry-run', '--url', await deadUrl()], CREDENTIALS)
    expect(out).toBe(`${path} is larger than 16 MiB, more than one run reads (over 400 000 ids): split it into files run one after another\n`)
    expect(code).toBe(2)
  }, 30_000)
})
