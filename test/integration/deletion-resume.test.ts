import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import type { Client, types } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { projectRoot } from '../../src/config/project-root.js'
import type { DeletionRequest } from '../../src/deletion/deletion-request.js'
import { CREATE_SETTLED_WITHIN_MS } from '../../src/deletion/ports.js'
import { RESUME_EXIT } from '../../scripts/lib/deletion-resume-command.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { requestsOf } from '../support/deletion-requests.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'

/** One sweeper pass of the service (resumeOpenDeletions' limit). */
const PASS = 200
/** Requests held by a "running instance": more than one pass, so that they fill the first. */
const HELD = PASS + 30
const PREPARED = { prepare: true } as const

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** `npm run deletion:resume` as an operator runs it: its own process, the service's settings (the tests' keyspace), and `env` on top. */
function deletionResume(args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', 'scripts/deletion-resume.ts', ...args],
      { cwd: projectRoot, env: { ...process.env, CASSANDRA_KEYSPACE: TEST_KEYSPACE, LOG_LEVEL: 'silent', ...env }, timeout: 180_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

const lastJsonLine = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>

/** An accepted request whose runner died before it locked the user: the sweeper takes it up once its lease has run out. */
function crashedRequest(userId: string, id = `resume-round-${randomUUID()}`): DeletionRequest {
  const at = new Date(Date.now() - 60_000)
  return { id, userId, requestedBy: userId, state: 'accepted', plan: 'sunbird', steps: {}, target: { rootOrgId: null, managedBy: null, organisationIds: [] }, createdAt: at, updatedAt: at }
}

/**
 * `npm run deletion:resume` on the real Cassandra with more open requests than one sweeper pass
 * takes: the first pass's 200 are all held by a running instance, and the requests that need the
 * operator lie behind them in the open list's (token) order. A single pass, as the script once
 * made, meets the same held 200 on every run and never reaches them.
 */
describe('npm run deletion:resume with more than one pass of open requests', () => {
  const db: Client = createCassandraClient(testConfig().cassandra)
  const requests = new CassandraDeletionRequests(db, TEST_KEYSPACE)
  const made: string[] = []
  const behind: { requestId: string; userId: string }[] = []

  /** Open entries due now, in the open list's order: what the sweeper's passes meet, first to last. */
  async function dueTokens(): Promise<types.Long[]> {
    const places: types.Long[] = []
    // Every page: the shared keyspace may hold many other open requests.
    for await (const row of await db.execute(`SELECT token(id) AS place, dueat FROM ${TEST_KEYSPACE}.user_deletion_request_open`, [], { ...PREPARED, fetchSize: 1000 })) {
      const dueAt = row.get('dueat') as Date | null
      if (!dueAt || dueAt.getTime() <= Date.now()) places.push(row.get('place') as types.Long)
    }
    return places.sort((a, b) => a.compare(b))
  }

  async function tokenOf(requestId: string): Promise<types.Long> {
    const row = (await db.execute(`SELECT token(id) AS place FROM ${TEST_KEYSPACE}.user_deletion_request_open WHERE id = ?`, [requestId], PREPARED)).first()
    return row.get('place') as types.Long
  }

  /** A crashed request of a seeded user, whose place in the open list is after `after`: tried with new ids until one lands there. */
  async function crashedRequestAfter(after: types.Long): Promise<{ requestId: string; userId: string }> {
    const userId = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id: userId })
    for (;;) {
      const request = crashedRequest(userId)
      made.push(request.id)
      expect(await requests.create(request, new Date(Date.now() - 1000), 'service')).toBe(true)
      if ((await tokenOf(request.id)).greaterThan(after)) return { requestId: request.id, userId }
      await requests.unlist(request.id)
      await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request WHERE id = ?`, [request.id], PREPARED)
    }
  }

  beforeAll(async () => {
    await db.connect()
    // Held for ten minutes by "another instance": the script must leave them alone and go on past them.
    const heldUntil = new Date(Date.now() + 10 * 60_000)
    for (let i = 0; i < HELD; i += 30) {
      await Promise.all(
        Array.from({ length: Math.min(30, HELD - i) }, async () => {
          const request = crashedRequest(randomUUID(), `resume-held-${randomUUID()}`)
          made.push(request.id)
          await requests.create(request, heldUntil, 'service')
        }),
      )
    }
    // Behind the first pass: after the 200th due entry of the whole list (other files' open requests included).
    const firstPassEnds = (await dueTokens())[PASS - 1]
    if (!firstPassEnds) throw new Error('fewer open requests than one pass: the held ones were not listed')
    for (let i = 0; i < 3; i++) behind.push(await crashedRequestAfter(firstPassEnds))
  }, 300_000)

  afterAll(async () => {
    for (const id of made) {
      await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request_open WHERE id = ?`, [id], PREPARED)
      if (id.startsWith('resume-held-')) await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request WHERE id = ?`, [id], PREPARED)
    }
    await db.shutdown()
  })

  it('when the first pass is all held by a running instance, then one run goes round the whole list: the requests behind it are completed and their users erased', async () => {
    const run = await deletionResume()

    expect(run.code, run.stderr).toBe(RESUME_EXIT.ok)
    expect(lastJsonLine(run.stdout)).toMatchObject({ resumed: expect.any(Number), completed: expect.any(Number), eventsPublished: expect.any(Number), eventsRemaining: expect.any(Number) })
    for (const { requestId, userId } of behind) {
      expect((await requestsOf(db, userId)).find((request) => request.id === requestId)?.state, requestId).toBe('completed')
      const after = await readUserState(db, userId)
      expect(after.user?.get('status')).toBe(2)
      expect(after.lookups).toHaveLength(0)
    }
    // The held ones were left to their holder.
    const held = made.filter((id) => id.startsWith('resume-held-'))
    const states = await Promise.all(held.slice(0, 10).map(async (id) => (await requests.get(id))?.state))
    expect(states.every((state) => state === 'accepted')).toBe(true)
  }, 240_000)

  it('when an id is given, then that request alone is resumed: exit 0 once it is completed, its id and state printed', async () => {
    const userId = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id: userId })
    const request = crashedRequest(userId)
    made.push(request.id)
    await requests.create(request, new Date(Date.now() - 1000), 'service')

    const run = await deletionResume([request.id])

    expect(run.code, run.stderr).toBe(RESUME_EXIT.ok)
    expect(lastJsonLine(run.stdout)).toEqual({ requestId: request.id, state: 'completed', resumed: true, eventsPublished: expect.any(Number), eventsRemaining: expect.any(Number) })
    expect((await readUserState(db, userId)).user?.get('status')).toBe(2)
  }, 120_000)

  it('when Kafka cannot be reached, then the request is still completed, its event is left queued and counted, a line says Kafka refused it, and exit 3', async () => {
    const userId = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id: userId })
    const request = crashedRequest(userId)
    made.push(request.id)
    await requests.create(request, new Date(Date.now() - 1000), 'service')

    // Nothing listens on port 1: every connect is refused at once.
    const run = await deletionResume([request.id], { kafka_urls: '127.0.0.1:1', KAFKA_TIMEOUT_MS: '500' })

    expect(run.code, run.stderr).toBe(RESUME_EXIT.eventsLeft)
    expect(lastJsonLine(run.stdout)).toEqual({ requestId: request.id, state: 'completed', resumed: true, eventsPublished: 0, eventsRemaining: expect.any(Number) })
    expect(Number(lastJsonLine(run.stdout).eventsRemaining)).toBeGreaterThanOrEqual(1)
    expect(run.stderr).toContain('Kafka refused them')
    const listed = await db.execute(`SELECT requestid FROM ${TEST_KEYSPACE}.user_deletion_event_outbox_pending WHERE requestid = ?`, [request.id], PREPARED)
    expect(listed.rowLength).toBe(1)
  }, 120_000)

  it('when the id names a request another runner holds, then it is left alone: exit 1, resumed false', async () => {
    const heldId = made.find((id) => id.startsWith('resume-held-')) as string

    const run = await deletionResume([heldId])

    expect(run.code).toBe(RESUME_EXIT.stillOpen)
    expect(lastJsonLine(run.stdout)).toEqual({ requestId: heldId, state: 'accepted', resumed: false, eventsPublished: expect.any(Number), eventsRemaining: expect.any(Number) })
    expect(run.stderr).toContain('another runner holds it')
  }, 120_000)

  it('when the id names a request whose create never applied (only its open entry, 20 minutes old), then it is created from the entry and carried out: exit 0, the user erased', async () => {
    const userId = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id: userId })
    const at = new Date(Date.now() - 2 * CREATE_SETTLED_WITHIN_MS - 60_000)
    const request = { ...crashedRequest(userId, `resume-entry-${randomUUID()}`), createdAt: at, updatedAt: at }
    made.push(request.id)
    await requests.create(request, new Date(Date.now() - 1000), 'service')
    // The row never applied: only the entry, which keeps what the request was created with.
    await db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request WHERE id = ?`, [request.id], PREPARED)

    const run = await deletionResume([request.id])

    expect(run.code, run.stderr).toBe(RESUME_EXIT.ok)
    expect(lastJsonLine(run.stdout)).toEqual({
      requestId: request.id,
      state: 'completed',
      resumed: true,
      createdFromEntry: true,
      eventsPublished: expect.any(Number),
      eventsRemaining: expect.any(Number),
    })
    expect((await requestsOf(db, userId)).map((stored) => stored.state)).toEqual(['completed'])
    expect((await readUserState(db, userId)).user?.get('status')).toBe(2)
  }, 120_000)

  it('when the id names no request, then exit 2 and one line that does not repeat it', async () => {
    const run = await deletionResume(['someone@example.org'])

    expect(run.code).toBe(RESUME_EXIT.couldNotResume)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain('deletion:resume: no deletion request has that id')
    expect(run.stderr).not.toContain('someone@example.org')
  }, 120_000)
})
