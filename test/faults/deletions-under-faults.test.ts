import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SeedUser } from '../../scripts/lib/seed-users.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { requestsOf } from '../support/deletion-requests.js'
import { signalLocalServer } from '../support/faults.js'
import { type Harness, startHarness } from '../support/harness.js'
import { readTopic } from '../support/kafka.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { readUserState } from '../support/user-state.js'
import { FAULT_KINDS, injectFaults, planFaults, SERVERS, seededRandom, startAgain } from './support/fault-injector.js'

// FAULTS_SEED replays a run's schedule of faults; FAULTS_DELETIONS sizes the stream (at least 300 in CI).
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const DELETIONS = Number(process.env.FAULTS_DELETIONS ?? 300)
// A new deletion every LAUNCH_EVERY_MS, at most IN_FLIGHT at once: the faults are planned over the stream's length.
const LAUNCH_EVERY_MS = 500
const IN_FLIGHT = 8
const PAUSES_PER_SERVER = 2
const CONVERGE_WITHIN_MS = 240_000
const LOOKUPS_SEEDED = 3
const ORG = '0137000000000000000041'

const SERVER_ENV = {
  NODE_ENV: 'test',
  // A short lease and a busy sweeper: requests handed over to the sweeper converge in seconds.
  DELETION_LEASE_MS: '8000',
  DELETION_SWEEP_INTERVAL_MS: '1000',
  // Owed requests (Keycloak paused) retried after a few seconds at most, not the default 5 min: convergence is measured once every server is back.
  DELETION_OWED_RETRY_MAX_MS: '4000',
  EVENT_RELAY_INTERVAL_MS: '500',
  CASSANDRA_READ_TIMEOUT_MS: '2000',
  KAFKA_TIMEOUT_MS: '2000',
  KEYCLOAK_ADMIN_TIMEOUT_MS: '2000',
}

type Answer = { user: SeedUser; index: number; requestId: string; status: number | 'no answer'; code?: string }

/**
 * Faults as figures: a bounded stream of deletions through the built server while the harness
 * pauses and kills the real Cassandra, Keycloak and Kafka at random points from a printed seed.
 * Then, with every server back and the sweeper given time: every request that was accepted (a 200,
 * or a call that got no answer but left a request) is completed with its event published, every
 * refusal changed nothing, no user is half-deleted (every table of the keyspace scanned for each
 * user's values), each deleted user has exactly one event mid on the topic, and the audit chain
 * verifies.
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
    const plan = planFaults(seededRandom(SEED), { windowMs: DELETIONS * LAUNCH_EVERY_MS, pausesPerServer: PAUSES_PER_SERVER })
    console.log(`faults: seed ${SEED} (FAULTS_SEED=${SEED} replays it) · plan: ${plan.map((f) => `${f.kind} at ${(f.atMs / 1000).toFixed(1)} s`).join(', ')}`)

    // Each user's values carry a marker of this run and the user (runTag u<index>), so one scan of every table finds what is left of whom.
    const runTag = `flt${Date.now().toString(36)}`
    const users: SeedUser[] = []
    while (users.length < DELETIONS) {
      const batch = Array.from({ length: Math.min(20, DELETIONS - users.length) }, (_, i) => {
        const marker = `${runTag}u${users.length + i}`
        return { id: randomUUID(), firstName: `Asha${marker}`, lastName: `Verma${marker}`, username: marker, email: `${marker}@example.org`, rootOrgId: ORG, organisations: [ORG] }
      })
      users.push(...(await Promise.all(batch.map((user) => h.seed(user)))))
    }
    const seededTables = await tablesHolding(h.db, runTag)

    const faults = injectFaults(plan, (line) => process.stderr.write(`faults: ${line}\n`))
    const streamStarted = Date.now()
    const answers: Answer[] = []
    const inFlight = new Set<Promise<void>>()
    for (const [index, user] of users.entries()) {
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
      const requestId = `faults-${randomUUID()}`
      const sent = deleteThroughServer(server, user, requestId).then((answer) => void answers.push({ ...answer, index }))
      inFlight.add(sent)
      void sent.finally(() => inFlight.delete(sent))
      await new Promise((resolve) => setTimeout(resolve, LAUNCH_EVERY_MS))
    }
    await Promise.all(inFlight)
    const streamSeconds = (Date.now() - streamStarted) / 1000
    await faults.done
    // Every server back: resumed, and started if a fault left it down.
    for (const name of SERVERS) await signalLocalServer(name, 'SIGCONT').catch(() => undefined)
    for (const name of SERVERS) await startAgain(name)

    // Whatever was accepted must converge: a 200's request, and any request a call without an answer left behind.
    const backAt = Date.now()
    const open = new Map<string, Answer>()
    for (const answer of answers) {
      if (answer.status === 200 || answer.status === 'no answer') open.set(answer.user.id, answer)
    }
    const unconverged = new Map<string, string>()
    while (Date.now() - backAt < CONVERGE_WITHIN_MS) {
      unconverged.clear()
      for (const [userId, answer] of open) {
        const requests = await requestsOf(h.db, userId).catch(() => undefined)
        if (requests === undefined) {
          unconverged.set(userId, 'unreadable')
          continue
        }
        const unsettled = requests.filter((r) => r.state !== 'failed' && !(r.state === 'completed' && r.steps.event?.action === 'published'))
        if (unsettled.length > 0) unconverged.set(userId, unsettled.map((r) => `${r.state}/event ${r.steps.event?.action ?? '-'}`).join(','))
        else if (answer.status === 'no answer') open.delete(userId)
        else if (!requests.some((r) => r.id === answer.requestId || r.state === 'completed')) unconverged.set(userId, 'no request')
        else open.delete(userId)
      }
      if (unconverged.size === 0) break
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const convergedInSeconds = (Date.now() - backAt) / 1000

    const violations: string[] = faults.failures.map((failure) => `fault not recovered: ${failure}`)
    for (const [userId, why] of unconverged) violations.push(`user ${userId} accepted but not completed with its event published (${why})`)
    const events = (await readTopic(h.config.events.topic, { maxMs: 30_000 }))
      .map((message) => JSON.parse(message.value) as { mid?: string; edata?: { userId?: string } })
      .filter((event) => event.edata?.userId !== undefined)
    const ours = new Set(users.map((user) => user.id))
    const ourEvents = events.filter((event) => ours.has(event.edata?.userId ?? ''))
    const midsOf = (userId: string) => new Set(ourEvents.filter((event) => event.edata?.userId === userId).map((event) => event.mid))
    const leftIn = await tablesHolding(h.db, runTag)
    for (const answer of answers) {
      const userId = answer.user.id
      const state = await readUserState(h.db, userId)
      const requests = await requestsOf(h.db, userId)
      const tables = [...(leftIn.get(answer.index) ?? [])].sort()
      const seeded = [...(seededTables.get(answer.index) ?? [])].sort()
      const shape = shapeOf(state, tables, seeded)
      const mids = midsOf(userId).size
      const what = `user ${userId} answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}`
      if (shape === 'half') violations.push(`${what}: half-deleted (its values left in ${tables.join(', ') || 'no table'})`)
      if (answer.status === 200) {
        if (shape !== 'deleted') violations.push(`${what} but is ${shape}`)
        if (mids !== 1) violations.push(`${what} and has ${mids} event mids`)
      } else if (answer.status !== 'no answer') {
        // A refusal (a 4xx, or a 503 when nothing was committed) changed nothing: no request, no event, the user as seeded.
        if (shape !== 'intact') violations.push(`${what} but is ${shape}`)
        if (requests.length > 0) violations.push(`${what} but has a request (${requests.map((r) => r.state).join(',')})`)
        if (mids !== 0) violations.push(`${what} but has ${mids} events`)
      } else if (shape === 'deleted' && mids !== 1) {
        violations.push(`${what}, deleted with ${mids} event mids`)
      } else if (shape === 'intact' && (mids !== 0 || requests.some((r) => r.state !== 'failed'))) {
        violations.push(`${what}, intact but with ${mids} events and requests ${requests.map((r) => r.state).join(',')}`)
      }
    }
    const runChains = await chainsNaming(h.db, ours)
    if (runChains.length === 0) violations.push('no audit chain holds a record of this run')
    const audit = auditVerifies(runChains)
    if (!audit.ok) violations.push(`audit:verify failed: ${audit.output}`)

    const perStatus = countBy(answers.map((answer) => String(answer.status)))
    const perFault = FAULT_KINDS.map((kind) => `${kind} ${faults.counts[kind]}`).join(', ')
    const duplicates = ourEvents.length - new Set(ourEvents.map((event) => event.mid)).size
    console.log(
      `faults: seed ${SEED} · deletions ${answers.length} in ${streamSeconds.toFixed(0)} s · faults injected: ${perFault} · answers: ${Object.entries(perStatus)
        .map(([status, count]) => `${status} ${count}`)
        .join(
          ', ',
        )} · events ${ourEvents.length} (duplicates dropped by mid: ${duplicates}) · converged ${convergedInSeconds.toFixed(1)} s after the servers were back · run ${((Date.now() - runStarted) / 1000).toFixed(0)} s · violations: ${violations.length}`,
    )
    expect(violations).toEqual([])
    expect(answers).toHaveLength(DELETIONS)
    expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThan(0)
    for (const kind of FAULT_KINDS) expect(faults.counts[kind], kind).toBeGreaterThan(0)
  })
})

async function deleteThroughServer(server: ContractServer, user: SeedUser, requestId: string): Promise<Omit<Answer, 'index'>> {
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

/**
 * Deleted (status 2, profile scrubbed, lookups and external ids gone, none of the user's values in
 * any table), intact (as seeded: its values in the tables it was seeded into), or half.
 */
function shapeOf(state: Awaited<ReturnType<typeof readUserState>>, tables: string[], seeded: string[]): 'deleted' | 'intact' | 'half' {
  const user = state.user
  if (!user) return 'half'
  const deleted =
    user.get('isdeleted') === true &&
    user.get('status') === 2 &&
    user.get('email') === '' &&
    user.get('firstname') === '' &&
    state.lookups.length === 0 &&
    state.identities.length === 0 &&
    tables.length === 0
  if (deleted) return 'deleted'
  const intact = user.get('isdeleted') !== true && user.get('status') === 1 && user.get('email') !== '' && state.lookups.length === LOOKUPS_SEEDED && tables.join() === seeded.join()
  return intact ? 'intact' : 'half'
}

/** Every table of the tests' keyspace, scanned whole: for each user of this run (by the index in its marker), the tables that hold one of its values. */
async function tablesHolding(db: Client, runTag: string): Promise<Map<number, Set<string>>> {
  const found = new Map<number, Set<string>>()
  const marker = new RegExp(`${runTag}u(\\d+)`, 'g')
  const tables = (await db.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [TEST_KEYSPACE], { prepare: true })).rows.map((row) => row.get('table_name') as string)
  for (const table of tables) {
    for await (const row of await db.execute(`SELECT * FROM ${TEST_KEYSPACE}.${table}`, [], { prepare: true, fetchSize: 1000 })) {
      const text = JSON.stringify(row, (_key, value) => (value instanceof Map ? Object.fromEntries(value) : value instanceof Set ? [...value] : value))
      for (const match of text.matchAll(marker)) {
        const index = Number(match[1])
        found.set(index, (found.get(index) ?? new Set()).add(table))
      }
    }
  }
  return found
}

/**
 * The audit chains holding a record of one of these users: the chains this run's server wrote. The
 * keyspace is shared with the other suites, whose tampering cases alter chains of their own.
 */
async function chainsNaming(db: Client, userIds: ReadonlySet<string>): Promise<string[]> {
  const chains = new Set<string>()
  for await (const row of await db.execute(`SELECT chain, record FROM ${TEST_KEYSPACE}.user_deletion_audit`, [], { prepare: true, fetchSize: 1000 })) {
    const { userId } = JSON.parse(row.get('record') as string) as { userId?: string }
    if (userId !== undefined && userIds.has(userId)) chains.add(row.get('chain') as string)
  }
  return [...chains]
}

/** `npm run audit:verify` on these chains, as an operator runs it. */
function auditVerifies(chains: string[]): { ok: boolean; output: string } {
  try {
    const args = ['scripts/audit-verify.ts', ...chains.flatMap((chain) => ['--chain', chain])]
    const output = execFileSync(join('node_modules', '.bin', 'tsx'), args, { env: { ...process.env, CASSANDRA_KEYSPACE: TEST_KEYSPACE }, encoding: 'utf8' })
    return { ok: true, output }
  } catch (err) {
    // stdout holds a verdict; stderr the one line of a run that reached none (exit 2).
    const { stdout, stderr } = err as { stdout?: string; stderr?: string }
    return { ok: false, output: `${stdout ?? ''}${stderr ?? ''}` || String(err) }
  }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}
