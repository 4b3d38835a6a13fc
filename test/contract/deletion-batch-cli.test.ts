import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { projectRoot } from '../../src/config/project-root.js'
import { batchRequestId } from '../../src/deletion/batch-job.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { requestsOf } from '../support/deletion-requests.js'
import { freePort } from '../support/spawned-server.js'
import { testConfig, trustedConsumerApiBearer } from '../support/harness.js'
import { type StubServer, startStubServer } from '../support/stub-http-server.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

const ORG = `batch-cli-${randomUUID()}`

/** Runs `npm run deletion:batch -- …` as an operator would (output piped: not a terminal); `onOutput` is called with all output so far on every chunk. */
function runCli(args: string[], env: Record<string, string>, onOutput?: (out: string) => void): Promise<{ code: number | null; out: string }> {
  const child = spawn(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'scripts', 'deletion-batch.ts'), ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
    onOutput?.(out)
  })
  child.stderr.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
    onOutput?.(out)
  })
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })))
}

const SUBMIT = '/api/user/v1/delete/batch'
/** Request headers the proxy does not pass on: the transport's own. */
const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'])

/**
 * A proxy in front of the server that passes every request on and every answer back, except the
 * answer to the first submit: the server has recorded the job, then the proxy cuts the connection
 * (a 202 lost on the way back).
 */
function proxyLosingFirstSubmitAnswer(target: string): Promise<StubServer> {
  let lost = false
  return proxySpoilingSubmitAnswers(target, (res) => {
    if (lost) return false
    lost = true
    res.socket?.destroy()
    return true
  })
}

/**
 * A proxy in front of the server that passes every request on and every answer back, except the
 * answers to submits that `spoil` gives in their place (it returns whether it did): the server has
 * recorded the job, its client hears otherwise.
 */
async function proxySpoilingSubmitAnswers(target: string, spoil: (res: ServerResponse) => boolean): Promise<StubServer> {
  return startStubServer((request, res) => {
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name, value]) => !HOP_BY_HOP.has(name) && typeof value === 'string')) as Record<string, string>
    fetch(`${target}${request.path}`, { method: request.method, headers, ...(request.body && { body: request.body }) })
      .then(async (answer) => {
        const body = await answer.text()
        if (request.path === SUBMIT && spoil(res)) return
        const passed = ['content-type', 'retry-after', 'idempotent-replayed'].flatMap((name) => {
          const value = answer.headers.get(name)
          return value === null ? [] : [[name, value] as const]
        })
        res.writeHead(answer.status, Object.fromEntries(passed)).end(body)
      })
      .catch(() => res.writeHead(502).end())
  })
}

describe('npm run deletion:batch against the built server', () => {
  const db = createCassandraClient(testConfig().cassandra)
  let server: ContractServer
  const dir = mkdtempSync(join(tmpdir(), 'deletion-batch-'))
  let env: Record<string, string>

  beforeAll(async () => {
    server = await startContractServer({ env: { BATCH_POLL_INTERVAL_MS: '200', BATCH_MAX_DELETIONS_PER_SECOND: '0' } })
    env = { API_BEARER: server.apiBearer, USER_TOKEN: server.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }
  })
  afterAll(async () => {
    await server.stop()
    await db.shutdown()
  })

  async function idsFile(ids: string[], extra = ''): Promise<string> {
    const path = join(dir, `${randomUUID()}.txt`)
    writeFileSync(path, `# users leaving\n${ids.join('\n')}\n\n${extra}`)
    return path
  }

  async function seeded(count: number, org = ORG): Promise<string[]> {
    const ids = Array.from({ length: count }, () => randomUUID())
    for (const id of ids) await seedUser(db, TEST_KEYSPACE, { id, rootOrgId: org, organisations: [org] })
    return ids
  }

  it('when every id is deleted, then it prints plain progress lines and exits 0', async () => {
    const ids = await seeded(4)
    const { code, out } = await runCli(['--file', await idsFile(ids), '--url', server.url, '--mode', 'hard'], env)
    expect(out).toMatch(/submitted job [0-9a-f-]{36} \(4 ids\)/)
    expect(out).toMatch(/^progress \d+% \d+\/4 rate [\d.]+\/s eta \S+ failed /m)
    expect(out).toContain('done: 4 deleted, none failed, of 4')
    expect(code).toBe(0)
  })

  it('when an id is refused, then it is listed with its code and the exit code is 1; --job follows the same job again', async () => {
    const ids = await seeded(2)
    const [outsider] = await seeded(1, `other-${randomUUID()}`)
    const first = await runCli(['--file', await idsFile([...ids, outsider!]), '--url', server.url], env)
    expect(first.out).toContain(`failed ${outsider} FORBIDDEN`)
    expect(first.out).toContain('FORBIDDEN=1')
    expect(first.code).toBe(1)
    const jobId = /submitted job ([0-9a-f-]{36})/.exec(first.out)?.[1]
    // The service reads a job id in either case: named so twice, it is one job, counted once.
    const again = await runCli(['--job', `${jobId},${jobId?.toUpperCase()}`, '--url', server.url], env)
    expect(again.out).toContain('done: 2 deleted, FORBIDDEN=1 failed, of 3')
    expect(again.code).toBe(1)
  })

  it('when the 202 of its first submit is lost on the way back, then it asks again with the same Idempotency-Key, gets that job back, and each user is deleted once by it', async () => {
    const ids = await seeded(3)
    const proxy = await proxyLosingFirstSubmitAnswer(server.url)
    try {
      const { code, out } = await runCli(['--file', await idsFile(ids), '--url', proxy.url], env)

      const submits = proxy.requests.filter((request) => request.path === SUBMIT)
      expect(submits, out).toHaveLength(2)
      // The run's key, then the job's number in the file.
      expect(submits[0]?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}\/1$/)
      expect(submits[1]?.headers['idempotency-key']).toBe(submits[0]?.headers['idempotency-key'])
      const jobId = /submitted job ([0-9a-f-]{36}) \(3 ids, recorded by an earlier try whose answer was lost\)/.exec(out)?.[1]
      expect(jobId, out).toBeDefined()
      expect(out).toContain('done: 3 deleted, none failed, of 3')
      expect(code).toBe(0)
      for (const id of ids) expect((await requestsOf(db, id)).map((request) => [request.id, request.state])).toEqual([[batchRequestId(jobId ?? '', id), 'completed']])
    } finally {
      await proxy.close()
    }
  })

  it('when every answer to its submit is a 503 though the server recorded the job, then it gives up saying the ids may or may not have been submitted; the same command with the printed --idempotency-key gets that job back, and each user is deleted once by it', async () => {
    const ids = await seeded(3)
    const file = await idsFile(ids)
    const proxy = await proxySpoilingSubmitAnswers(server.url, (res) => {
      const params = { err: 'UOS_USRDLT0064', errmsg: 'SERVICE UNAVAILABLE', status: 'FAILED' }
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'api.user.delete.batch', ver: 'v1', params, responseCode: 'SERVER_ERROR', result: {} }))
      return true
    })
    let first: { code: number | null; out: string }
    try {
      first = await runCli(['--file', file, '--url', proxy.url, '--give-up-after', '2'], env)
    } finally {
      await proxy.close()
    }
    expect(first.out).toContain('the service may still have recorded that job')
    expect(first.out).not.toContain('nothing was submitted')
    expect(first.out).toContain(`3 of 3 ids may or may not have been submitted: the ones from line 2 of ${file} on`)
    expect(first.code).toBe(2)
    const key = /--idempotency-key ([0-9a-f-]{36})/.exec(first.out)?.[1]
    expect(key, first.out).toBeDefined()

    const again = await runCli(['--file', file, '--url', server.url, '--idempotency-key', key ?? ''], env)

    const jobId = /submitted job ([0-9a-f-]{36}) \(3 ids, recorded already under this --idempotency-key\)/.exec(again.out)?.[1]
    expect(jobId, again.out).toBeDefined()
    expect(again.out).toContain('done: 3 deleted, none failed, of 3')
    expect(again.code).toBe(0)
    for (const id of ids) expect((await requestsOf(db, id)).map((request) => [request.id, request.state])).toEqual([[batchRequestId(jobId ?? '', id), 'completed']])
  })

  it('when API_BEARER is a consumer trusted with deleteAnyUser and USER_TOKEN is not set, then it deletes users of any organisation and exits 0', async () => {
    const ids = [...(await seeded(1)), ...(await seeded(1, `other-${randomUUID()}`))]
    const trusted = { API_BEARER: trustedConsumerApiBearer(), USER_TOKEN: '' }
    const { code, out } = await runCli(['--file', await idsFile(ids), '--url', server.url], trusted)
    expect(out).toContain('done: 2 deleted, none failed, of 2')
    expect(code).toBe(0)
  })

  it('when asked for a dry run, a bad file, or without credentials, then nothing is submitted and it says why', async () => {
    const ids = await seeded(1)
    const dry = await runCli(['--file', await idsFile(ids), '--dry-run', '--url', 'http://127.0.0.1:9'], env)
    expect(dry.code).toBe(0)
    expect(dry.out).toContain('dry run: 1 distinct ids in 1 job(s)')
    const bad = await runCli(['--file', await idsFile(ids, 'not-an-id\n'), '--url', server.url], env)
    expect(bad.code).toBe(2)
    expect(bad.out).toContain('not a user id on line 4')
    const anonymous = await runCli(['--file', await idsFile(ids), '--url', server.url], { API_BEARER: '', USER_TOKEN: '' })
    expect(anonymous.code).toBe(2)
    expect(anonymous.out).toContain('API_BEARER')
    expect((await db.execute(`SELECT isdeleted FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [ids[0]], { prepare: true })).first()?.get('isdeleted')).not.toBe(true)
  })
})

describe('npm run deletion:batch against the built server while the search engine and Redis are down', () => {
  const db = createCassandraClient(testConfig().cassandra)
  // The only server of this block: another's runner (its stores up) would take slices of the job and complete them.
  let down: ContractServer
  const dir = mkdtempSync(join(tmpdir(), 'deletion-batch-down-'))

  beforeAll(async () => {
    // Ports nothing listens on, for the stores a deletion erases in after Cassandra and Keycloak.
    const [searchPort, redisPort] = [await freePort(), await freePort()]
    down = await startContractServer({
      env: {
        BATCH_POLL_INTERVAL_MS: '200',
        BATCH_MAX_DELETIONS_PER_SECOND: '0',
        sunbird_es_port: String(searchPort),
        sunbird_redis_port: String(redisPort),
        SEARCH_TIMEOUT_MS: '500',
        REDIS_TIMEOUT_MS: '500',
      },
    })
  })
  afterAll(async () => {
    await down.stop()
    await db.shutdown()
  })

  it('when every id is deleted with steps still owed (its request partial), then each is listed with its request, the last line says so, and the exit code is 0', async () => {
    const ids = [randomUUID(), randomUUID()]
    for (const id of ids) await seedUser(db, TEST_KEYSPACE, { id, rootOrgId: ORG, organisations: [ORG] })
    const file = join(dir, 'learners.txt')
    writeFileSync(file, `${ids.join('\n')}\n`)
    const env = { API_BEARER: down.apiBearer, USER_TOKEN: down.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) }

    const { code, out } = await runCli(['--file', file, '--url', down.url, '--mode', 'hard'], env)

    const jobId = /submitted job ([0-9a-f-]{36})/.exec(out)?.[1] ?? ''
    for (const id of ids) {
      expect(out).toContain(`owed ${id} ${batchRequestId(jobId, id)}`)
      expect((await requestsOf(db, id)).map((request) => [request.id, request.state])).toEqual([[batchRequestId(jobId, id), 'partial']])
    }
    expect(out).toMatch(/^done: 2 deleted, none failed, of 2; 2 of them with steps still owed \(retried until done; follow each request listed above with POST \/api\/user\/v1\/delete\/status/m)
    expect(code).toBe(0)
  })
})

describe('npm run deletion:batch run by a learner listing their own id, against the built server', () => {
  const db = createCassandraClient(testConfig().cassandra)
  // The service's default pass interval: the own account waits OWN_ACCOUNT_DWELL_MS once the others
  // are settled, so the CLI (a poll a second) reads that before the deletion locks it out.
  let server: ContractServer
  const dir = mkdtempSync(join(tmpdir(), 'deletion-batch-own-'))

  beforeAll(async () => {
    server = await startContractServer({ env: { BATCH_MAX_DELETIONS_PER_SECOND: '0' } })
  })
  afterAll(async () => {
    await server.stop()
    await db.shutdown()
  })

  it('when a learner submits [self, other, other], then the others are FORBIDDEN, their own account is deleted last, and the CLI says the job deleted it and exits 1 (ids failed), not 2 with a follow-again it could never do', async () => {
    const [self, ...others] = [randomUUID(), randomUUID(), randomUUID()]
    for (const id of [self, ...others]) await seedUser(db, TEST_KEYSPACE, { id, rootOrgId: ORG, organisations: [ORG] })
    const file = join(dir, 'mine.txt')
    writeFileSync(file, `${[self, ...others].join('\n')}\n`)
    const env = { API_BEARER: server.apiBearer, USER_TOKEN: server.userToken({ sub: `f:provider-1:${self}` }) }

    const { code, out } = await runCli(['--file', file, '--url', server.url], env)

    for (const id of others) expect(out).toContain(`failed ${id} FORBIDDEN`)
    expect(out).toContain('done: 1 deleted, FORBIDDEN=2 failed, of 3')
    expect(out).toMatch(
      /the last act of job [0-9a-f-]{36} is deleting your own account \([0-9a-f-]{36}\), once every other id is settled: the 401 right after the status read showing that says your account is deleted/,
    )
    expect(out).not.toContain('the jobs go on without this CLI')
    expect(code).toBe(1)
    expect((await db.execute(`SELECT isdeleted FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [self], { prepare: true })).first()?.get('isdeleted')).toBe(true)
    for (const id of others) expect((await db.execute(`SELECT isdeleted FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [id], { prepare: true })).first()?.get('isdeleted')).not.toBe(true)
  }, 60_000)

  it('when a learner submits a file of 1001 ids, their own first, then the first job takes the 1000 others and is followed until settled, and only then a last job with their own id is submitted: the CLI follows both, says the last deleted their account and exits 1 (ids failed), not 2 locked out of a job still running', async () => {
    const self = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id: self, rootOrgId: ORG, organisations: [ORG] })
    // Users of nobody the learner may delete: each fails, none is deleted.
    const others = Array.from({ length: 1000 }, () => randomUUID())
    const file = join(dir, 'mine-and-1000.txt')
    writeFileSync(file, `${[self, ...others].join('\n')}\n`)
    const env = { API_BEARER: server.apiBearer, USER_TOKEN: server.userToken({ sub: `f:provider-1:${self}` }) }

    const { code, out } = await runCli(['--file', file, '--url', server.url], env)

    const [first, last] = [...out.matchAll(/submitted job ([0-9a-f-]{36}) \((\d+) ids\)/g)].map((match) => ({ jobId: match[1], total: match[2], at: match.index }))
    expect(first?.total, out).toBe('1000')
    expect(last?.total, out).toBe('1')
    // Every user of the first job settled before the last was submitted, and the last one deleted the learner.
    expect(out.indexOf('progress 100% 1000/1000')).toBeGreaterThan(-1)
    expect(out.indexOf('progress 100% 1000/1000')).toBeLessThan(last?.at ?? -1)
    expect(out).toContain(`the last act of job ${last?.jobId} is deleting your own account (${self}), once every other id is settled`)
    expect(out).toMatch(/^done: 1 deleted, \S+=1000 failed, of 1001$/m)
    expect(out).toContain(`your own id (line 1 of ${file}) goes in the last job, submitted once job(s) ${first?.jobId} are settled`)
    expect(out).not.toContain('the jobs go on without this CLI')
    expect(code).toBe(1)
    expect((await db.execute(`SELECT isdeleted FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [self], { prepare: true })).first()?.get('isdeleted')).toBe(true)
  }, 120_000)
})

describe('npm run deletion:batch run by a learner listing their own id, whose first job someone cancels, against the built server', () => {
  const db = createCassandraClient(testConfig().cassandra)
  // Paced, so the first job of 1000 is still running when the cancel comes (its users, refused, each wait on the pace).
  let server: ContractServer
  const dir = mkdtempSync(join(tmpdir(), 'deletion-batch-own-cancelled-'))

  beforeAll(async () => {
    server = await startContractServer({ env: { BATCH_MAX_DELETIONS_PER_SECOND: '10' } })
  })
  afterAll(async () => {
    await server.stop()
    await db.shutdown()
  })

  it('when the learner cancels the first job of a file of 1001 ids from another terminal (--job --cancel), then the last job, with their own id, is not submitted: their account stays, the CLI says so with the --idempotency-key that submits it all the same and exits 2; that command deletes it', async () => {
    const self = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id: self, rootOrgId: ORG, organisations: [ORG] })
    const others = Array.from({ length: 1000 }, () => randomUUID())
    const file = join(dir, 'mine-and-1000.txt')
    writeFileSync(file, `${[self, ...others].join('\n')}\n`)
    const env = { API_BEARER: server.apiBearer, USER_TOKEN: server.userToken({ sub: `f:provider-1:${self}` }) }
    let cancelling: Promise<{ code: number | null; out: string }> | undefined

    const { code, out } = await runCli(['--file', file, '--url', server.url], env, (sofar) => {
      const jobId = /submitted job ([0-9a-f-]{36}) \(1000 ids\)/.exec(sofar)?.[1]
      if (jobId && !cancelling) cancelling = runCli(['--job', jobId, '--cancel', '--url', server.url], env)
    })

    const jobId = /submitted job ([0-9a-f-]{36}) \(1000 ids\)/.exec(out)?.[1]
    const runKey = /--idempotency-key ([0-9a-f-]{36})/.exec(out)?.[1]
    expect((await cancelling)?.out).toContain(`cancelled job ${jobId}`)
    expect(out.match(/submitted job/g), out).toHaveLength(1)
    expect(out).toMatch(/^done: 0 deleted, (none|\S+=\d+) failed, \d+ cancelled \(not deleted\), of 1000$/m)
    expect(out).toMatch(
      new RegExp(
        `^job ${jobId} was cancelled, and a cancel means stop: the last job, with your own id, was not submitted; to submit it all the same, run the same command again with --idempotency-key ${runKey} before (\\S+) \\(the service answers the run's jobs' keys again until a day after it recorded the first; later, it would take the cancelled job as new and delete the users its cancel spared\\)$`,
        'm',
      ),
    )
    // A day after the first job was recorded (this run, just now), less the hour the line keeps for clocks.
    const deadline = Date.parse(/ before (\S+) \(the service answers/.exec(out)?.[1] ?? '')
    expect(Math.abs(deadline - (Date.now() + 23 * 3600_000))).toBeLessThan(10 * 60_000)
    expect(out).toContain(`1 of 1001 ids were not submitted: your own id, on line 1 of ${file}`)
    expect(code).toBe(2)
    expect((await db.execute(`SELECT isdeleted FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [self], { prepare: true })).first()?.get('isdeleted')).not.toBe(true)

    const again = await runCli(['--file', file, '--url', server.url, '--idempotency-key', runKey ?? ''], env)

    expect(again.out).toContain(`submitted job ${jobId} (1000 ids, recorded already under this --idempotency-key)`)
    expect(again.out).toContain(`job ${jobId} was cancelled before this run: the last job, with your own id, is submitted all the same`)
    expect(again.out).toMatch(new RegExp(`the last act of job [0-9a-f-]{36} is deleting your own account \\(${self}\\)`))
    expect(again.code).toBe(1)
    expect((await db.execute(`SELECT isdeleted FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [self], { prepare: true })).first()?.get('isdeleted')).toBe(true)
  }, 120_000)
})
