import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SeedUser } from '../../scripts/lib/seed-users.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { requestsOf } from '../support/deletion-requests.js'
import { signalLocalServer } from '../support/faults.js'
import { type Harness, startHarness } from '../support/harness.js'
import { readTopic } from '../support/kafka.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'
import { FAULT_KINDS, injectFaults, seededRandom, startAgain } from './support/fault-injector.js'

// FAULTS_SEED replays a run's schedule of faults; FAULTS_DELETIONS sizes the stream (at least 300 in CI).
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const DELETIONS = Number(process.env.FAULTS_DELETIONS ?? 300)
// A new deletion every LAUNCH_EVERY_MS, at most IN_FLIGHT at once: the stream lasts long enough for every kind of fault to meet it.
const LAUNCH_EVERY_MS = 500
const IN_FLIGHT = 8
const CONVERGE_WITHIN_MS = 240_000
const LOOKUPS_SEEDED = 3
const ORG = '0137000000000000000041'

const SERVER_ENV = {
  NODE_ENV: 'test',
  // A short lease and a busy sweeper: requests handed over to the sweeper converge in seconds.
  DELETION_LEASE_MS: '8000',
  DELETION_SWEEP_INTERVAL_MS: '1000',
  EVENT_RELAY_INTERVAL_MS: '500',
  CASSANDRA_READ_TIMEOUT_MS: '2000',
  KAFKA_TIMEOUT_MS: '2000',
  KEYCLOAK_ADMIN_TIMEOUT_MS: '2000',
}

type Answer = { user: SeedUser; requestId: string; status: number | 'no answer'; code?: string }

/**
 * Faults as figures: a bounded stream of deletions through the built server while the harness
 * pauses and kills the real Cassandra, Keycloak and Kafka at random points from a printed seed.
 * Then, with every server back and the sweeper given time: every 200 is completed with its event
 * published, every refusal changed nothing, no user is half-deleted (every table of the user read),
 * each accepted deletion has exactly one event mid on the topic, and the audit chain verifies.
 */
describe('deletions while Cassandra, Keycloak and Kafka are paused and killed', () => {
  let h: Harness
  let server: ContractServer
  beforeAll(async () => {
    h = await startHarness()
    // Started twice at most: on a loaded 2-core machine the first start may outlast its 20 s wait.
    server = await startContractServer({ keys: h.keys, env: SERVER_ENV }).catch(() => startContractServer({ keys: h.keys, env: SERVER_ENV }))
  })
  afterAll(async () => {
    await server?.stop()
    await h?.close()
  })

  it('then every answer tells the truth and the figures show no violation', async () => {
    const runStarted = Date.now()
    const users: SeedUser[] = []
    while (users.length < DELETIONS) {
      const batch = Math.min(20, DELETIONS - users.length)
      users.push(...(await Promise.all(Array.from({ length: batch }, () => h.seed({ rootOrgId: ORG, organisations: [ORG] })))))
    }

    const random = seededRandom(SEED)
    const faults = injectFaults(random, () => undefined)
    const answers: Answer[] = []
    const inFlight = new Set<Promise<void>>()
    for (const user of users) {
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
      const requestId = `faults-${randomUUID()}`
      const sent = deleteThroughServer(server, user, requestId).then((answer) => void answers.push(answer))
      inFlight.add(sent)
      void sent.finally(() => inFlight.delete(sent))
      await new Promise((resolve) => setTimeout(resolve, LAUNCH_EVERY_MS))
    }
    await Promise.all(inFlight)
    await faults.stop()
    // Every server back: resumed, and started if a kill left it down.
    for (const name of ['cassandra', 'kafka', 'keycloak'] as const) await signalLocalServer(name, 'SIGCONT').catch(() => undefined)
    for (const name of ['cassandra', 'kafka', 'keycloak'] as const) await startAgain(name)

    const accepted = answers.filter((answer) => answer.status === 200)
    const backAt = Date.now()
    const pending = new Set(accepted.map((answer) => answer.requestId))
    while (pending.size > 0 && Date.now() - backAt < CONVERGE_WITHIN_MS) {
      for (const answer of accepted.filter((a) => pending.has(a.requestId))) {
        const request = (await requestsOf(h.db, answer.user.id).catch(() => [])).find((r) => r.id === answer.requestId)
        if (request?.state === 'completed' && request.steps.event?.action === 'published') pending.delete(answer.requestId)
      }
      if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const convergedInSeconds = (Date.now() - backAt) / 1000

    const violations: string[] = faults.failures.map((failure) => `fault not recovered: ${failure}`)
    for (const id of pending) violations.push(`accepted ${id} not completed with its event published`)
    const events = (await readTopic(h.config.events.topic, { maxMs: 30_000 }))
      .map((message) => JSON.parse(message.value) as { mid?: string; edata?: { userId?: string } })
      .filter((event) => event.edata?.userId !== undefined)
    const midsOf = (userId: string) => new Set(events.filter((event) => event.edata?.userId === userId).map((event) => event.mid))
    for (const answer of answers) {
      const state = await readUserState(h.db, answer.user.id)
      const requests = await requestsOf(h.db, answer.user.id)
      const shape = shapeOf(state)
      if (shape === 'half') violations.push(`user ${answer.user.id} half-deleted (${answer.status})`)
      const mids = midsOf(answer.user.id).size
      if (answer.status === 200) {
        if (shape !== 'deleted') violations.push(`user ${answer.user.id} answered 200 but ${shape}`)
        if (mids !== 1) violations.push(`user ${answer.user.id} answered 200 has ${mids} event mids`)
      } else if (answer.status !== 'no answer') {
        if (shape !== 'intact') violations.push(`user ${answer.user.id} answered ${answer.status} but ${shape}`)
        if (requests.length > 0) violations.push(`user ${answer.user.id} answered ${answer.status} but has a request (${requests.map((r) => r.state).join(',')})`)
        if (mids !== 0) violations.push(`user ${answer.user.id} answered ${answer.status} but has ${mids} events`)
      } else if (shape === 'deleted' && mids !== 1) {
        violations.push(`user ${answer.user.id} (no answer) deleted with ${mids} event mids`)
      }
    }
    const audit = auditVerifies()
    if (!audit.ok) violations.push(`audit:verify failed: ${audit.output}`)

    const perStatus = countBy(answers.map((answer) => String(answer.status)))
    const perFault = FAULT_KINDS.map((kind) => `${kind} ${faults.counts[kind]}`).join(', ')
    console.log(
      `faults: seed ${SEED} · deletions ${answers.length} · faults injected: ${perFault} · answers: ${Object.entries(perStatus)
        .map(([status, count]) => `${status} ${count}`)
        .join(', ')} · converged ${convergedInSeconds.toFixed(1)} s after the servers were back · run ${((Date.now() - runStarted) / 1000).toFixed(0)} s · violations: ${violations.length}`,
    )
    expect(violations).toEqual([])
    expect(answers).toHaveLength(DELETIONS)
    expect(accepted.length).toBeGreaterThan(0)
  })
})

async function deleteThroughServer(server: ContractServer, user: SeedUser, requestId: string): Promise<Answer> {
  try {
    const response = await fetch(`${server.url}/api/user/v1/delete`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${server.apiBearer}`,
        'x-authenticated-user-token': server.userToken({ sub: user.id }),
        'x-request-id': requestId,
      },
      body: JSON.stringify({ request: { userId: user.id } }),
      signal: AbortSignal.timeout(60_000),
    })
    const body = (await response.json().catch(() => ({}))) as { params?: { err?: string } }
    return { user, requestId, status: response.status, ...(body.params?.err && { code: body.params.err }) }
  } catch {
    return { user, requestId, status: 'no answer' }
  }
}

/** Deleted (status 2, profile scrubbed, lookups and external ids gone), intact (as seeded), or half. */
function shapeOf(state: Awaited<ReturnType<typeof readUserState>>): 'deleted' | 'intact' | 'half' {
  const user = state.user
  if (!user) return 'half'
  const deleted = user.get('isdeleted') === true && user.get('status') === 2 && user.get('email') === '' && user.get('firstname') === '' && state.lookups.length === 0 && state.identities.length === 0
  if (deleted) return 'deleted'
  const intact = user.get('isdeleted') !== true && user.get('email') !== '' && state.lookups.length === LOOKUPS_SEEDED
  return intact ? 'intact' : 'half'
}

function auditVerifies(): { ok: boolean; output: string } {
  try {
    const output = execFileSync(join('node_modules', '.bin', 'tsx'), ['scripts/audit-verify.ts'], { env: { ...process.env, CASSANDRA_KEYSPACE: TEST_KEYSPACE }, encoding: 'utf8' })
    return { ok: true, output }
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout ?? err) }
  }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}
