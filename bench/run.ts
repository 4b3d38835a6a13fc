// `npm run bench`: throughput and latency of the service against baselines measured in the same run.
// Everything is a ratio because the machine is small and shared; see README.md, "Performance".
import { execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { up } from '../scripts/services.mjs'
import { signApiBearer } from '../scripts/lib/sign-jwt.js'
import { loadConfig } from '../src/config/load-config.js'
import { projectRoot } from '../src/config/project-root.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { contractServerEnv } from '../test/support/contract-server.js'
import { LOCAL_CONSUMER } from '../test/support/harness.js'
import { buildServer } from '../test/support/spawned-server.js'
import { createRealmKeys } from '../test/support/user-tokens.js'
import { mintUserToken } from '../test/support/user-tokens.js'
import { prepareKeyspace, seedUsers, tokensFor, type UserWithToken } from './fixtures.js'
import { cpuMs, listenerPid, rssMiB, runLoad, startServerProcess, type ServerProcess } from './processes.js'
import { type BatchRun, runBatchJobs } from './batch-run.js'
import { checkBaselineMatchesService } from './drift-check.js'
import { KEYCLOAK_SETTLED_BELOW_MS_PER_SECOND, type KeycloakSettle, type KeycloakWarmup, waitForKeycloakToSettle, warmUpKeycloak } from './keycloak-warmup.js'
import { renderScaling, runClusterScaling } from './cluster-scaling.js'
import { runBaselineB, runErasureOnly, type TimedRun } from './raw-delete-sequence.js'
import { runBaselineS } from './sunbird-delete-sequence.js'
import { renderTable, writeResults, type TableRow, type Verdict } from './report.js'
import { readSettings } from './settings.js'
import { round, summarize, type LatencySummary } from './stats.js'

interface LoadResult {
  reqPerSec: number
  totalRequests: number
  durationSeconds: number
  latencyMs: { p50: number; p99: number; max: number; mean: number }
  statuses: Record<string, number>
  errors: number
  timeouts: number
  /** Requests of the warm-up before the measured run (fixed mode). */
  warmupRequests?: number
  /** CPU (user + system) of the server process per request, warm-up included: robust to how the shared CPU was split. */
  cpuUsPerRequest?: number
}
interface DeletesResult extends LoadResult {
  latenciesMs: number[]
  sent: number
  seconds: number
}
interface MixedResult {
  rejections: LoadResult
  deletes: LoadResult & { deletesSent: number; usersLeft: number; latenciesMs: number[] }
}
interface HttpRequestSpec {
  method: 'POST'
  path: string
  headers: Record<string, string>
  body: string
}

const TARGETS = {
  /** A missing or forged API bearer; valid tokens with an invalid body. */
  rejectionVsA: { missingToken: 0.5, badSignature: 0.5, invalidBody: 0.35 },
  fullDeleteP99VsB: 1.5,
  /** The service's Cassandra CPU per deletion at most this many times Sunbird's own statements'. */
  cassandraCpuVsS: 2,
  /** Full-delete throughput at least this share of Sunbird's own statements'. */
  fullDeleteThroughputVsS: 0.5,
  /** A batch (pace limit off) at least this share of B's deletions per second. */
  batchThroughputVsB: 0.8,
  soakRssDrift: 0.1,
} as const
const PATH = '/api/user/v1/delete'

const started = new Date()
const t0 = Date.now()
const log = (message: string) => process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}\n`)

/** Share of responses with the expected status; below 99.9 % (or any socket error) the run does not count. */
function statusCheck(result: LoadResult, expected: number): { ok: boolean; share: number } {
  const total = Object.values(result.statuses).reduce((a, b) => a + b, 0)
  const share = total === 0 ? 0 : (result.statuses[String(expected)] ?? 0) / total
  return { ok: share >= 0.999 && result.errors === 0, share: round(share, 4) }
}

const verdict = (pass: boolean): Verdict => (pass ? 'PASS' : 'FAIL')

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}

function safeRssMiB(pid: number): number | undefined {
  try {
    return rssMiB(pid)
  } catch {
    return undefined
  }
}

function safeCpuMs(pid: number): number {
  try {
    return cpuMs(pid)
  } catch {
    return Number.NaN
  }
}

/** Several runs of the same load as one: mean req/s and percentiles, statuses and errors summed. */
function combineRuns(runs: readonly LoadResult[]): LoadResult {
  const mean = (pick: (r: LoadResult) => number) => round(runs.reduce((n, r) => n + pick(r), 0) / runs.length)
  return {
    reqPerSec: mean((r) => r.reqPerSec),
    totalRequests: runs.reduce((n, r) => n + r.totalRequests, 0),
    durationSeconds: runs.reduce((n, r) => n + r.durationSeconds, 0),
    latencyMs: { p50: mean((r) => r.latencyMs.p50), p99: mean((r) => r.latencyMs.p99), max: Math.max(...runs.map((r) => r.latencyMs.max)), mean: mean((r) => r.latencyMs.mean) },
    cpuUsPerRequest: round(runs.reduce((n, r) => n + (r.cpuUsPerRequest ?? 0), 0) / runs.length, 1),
    statuses: sumStatuses(runs.map((r) => r.statuses)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    timeouts: runs.reduce((n, r) => n + r.timeouts, 0),
  }
}

/** The rounds of one raw baseline as one run: every sample, errors and seconds summed, the first error kept. */
function combineTimedRuns(runs: readonly TimedRun[]): TimedRun {
  const firstError = runs.find((r) => r.firstError)?.firstError
  return {
    latenciesMs: runs.flatMap((r) => r.latenciesMs),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    seconds: runs.reduce((n, r) => n + r.seconds, 0),
    ...(firstError && { firstError }),
  }
}

function sumStatuses(all: readonly Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {}
  for (const statuses of all) for (const [code, n] of Object.entries(statuses)) total[code] = (total[code] ?? 0) + n
  return total
}

/** The `round`-th of `rounds` near-equal slices of `items` (1-based). */
function chunk<T>(items: readonly T[], rounds: number, round: number): T[] {
  const size = Math.ceil(items.length / rounds)
  return items.slice((round - 1) * size, round * size)
}

/**
 * Waits (bounded) until the service's event relay has published a round's events, so the next
 * measurement does not share Cassandra with that backlog. Skipped when the table is not there.
 */
async function waitForOutboxDrain(db: Client, keyspace: string, maxSeconds = 180): Promise<{ drained: boolean; seconds: number; left?: number }> {
  const t = Date.now()
  for (;;) {
    let left: number
    try {
      const row = (await db.execute(`SELECT COUNT(*) AS n FROM ${keyspace}.user_deletion_event_outbox_pending`)).first()
      left = Number(row?.get('n') ?? 0)
    } catch {
      return { drained: true, seconds: 0 }
    }
    const seconds = Math.round((Date.now() - t) / 100) / 10
    if (left === 0) return { drained: true, seconds }
    if (seconds >= maxSeconds) return { drained: false, seconds, left }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

async function main(): Promise<void> {
  const settings = readSettings()
  if (process.env.BENCH_CLUSTER === '1') {
    // The cluster section alone: one instance against two on the 3-node Cassandra and 3-broker Kafka.
    const { runs, queryCosts } = await runClusterScaling({
      keyspace: settings.keyspace,
      deletions: Number(process.env.BENCH_CLUSTER_DELETIONS ?? '300'),
      inFlight: Number(process.env.BENCH_CLUSTER_IN_FLIGHT ?? '16'),
    })
    console.log(renderScaling(runs, queryCosts))
    writeResults({ cluster: { loadAverage: loadavg(), runs, queryCosts } }, new Date())
    return
  }
  const C = settings.connections
  log(`settings ${JSON.stringify(settings)}`)
  const loadStart = loadavg()

  // Kafka too: the service's event relay publishes every deletion's event (with Kafka down it would
  // retry its connection every pass, which is not the steady state we want to measure).
  await up(['cassandra', 'keycloak', 'kafka'], { log })
  log('building the service (tsc -p tsconfig.build.json)')
  buildServer()

  const keys = createRealmKeys('bench-kid')
  const ssoUrl = (process.env.sunbird_sso_url || `http://127.0.0.1:${process.env.KEYCLOAK_PORT ?? '18080'}`).replace(/\/+$/, '')
  const config = loadConfig({
    cassandra: { keyspace: settings.keyspace },
    auth: { userToken: { publicKeyDir: keys.dir, ssoUrl } },
    logging: { level: 'silent' },
  })
  const issuer = `${config.auth.userToken.ssoUrl}/realms/${config.auth.userToken.realm}`
  const db = createCassandraClient(config.cassandra, { keyspace: false })
  await db.connect()
  let service: ServerProcess | undefined
  /** The service's full (mark-compact) GCs: live heap after each, and the heap V8 keeps. */
  const fullGcs: { atSecond: number; liveMB: number; heapMB: number; rssMiB?: number }[] = []
  let servicePid: number | undefined
  let serviceStartedAt = Date.now()
  let baselineA: ServerProcess | undefined
  let keycloakWarmup: KeycloakWarmup | undefined
  let keycloakSettle: KeycloakSettle | undefined
  try {
    log(`keyspace ${settings.keyspace}: migrating and truncating`)
    await prepareKeyspace(config.cassandra, db)

    // --- users, tokens ---------------------------------------------------------------------------------
    const soakPhases = [settings.soakWarmupSeconds, settings.soakSeconds]
    const soakUserCount = soakPhases.reduce((n, seconds) => n + Math.ceil(seconds * settings.soakDeleteRate * 1.05) + settings.soakDeleteConnections, 0)
    const total = 3 + 4 * (settings.deleteWarmupUsers + settings.deleteUsers) + soakUserCount + settings.batchUsers
    log(`seeding ${total} users`)
    const ks = settings.keyspace
    const [driftWarmupUser, driftServiceUser, driftBaselineUser] = await seedUsers(db, ks, 3)
    const bWarmup = await seedUsers(db, ks, settings.deleteWarmupUsers)
    const bMeasured = await seedUsers(db, ks, settings.deleteUsers)
    // Baseline S (Sunbird's own statements): the same number of the same users as B.
    const sunbirdWarmup = await seedUsers(db, ks, settings.deleteWarmupUsers)
    const sunbirdMeasured = await seedUsers(db, ks, settings.deleteUsers)
    // Baseline E (B's erasure alone): the same number of the same users again.
    const erasureWarmup = await seedUsers(db, ks, settings.deleteWarmupUsers)
    const erasureMeasured = await seedUsers(db, ks, settings.deleteUsers)
    const sWarmupIds = await seedUsers(db, ks, settings.deleteWarmupUsers)
    const sMeasuredIds = await seedUsers(db, ks, settings.deleteUsers)
    const soakIds = await seedUsers(db, ks, soakUserCount)
    // The batch row's users belong to one organisation, whose ORG_ADMIN submits the jobs (an organisation leaving).
    const batchOrg = `bench-org-${randomUUID()}`
    if (settings.batchUsers > 0) log(`seeding ${settings.batchUsers} users of one organisation for the batch row`)
    const batchIds = await seedUsers(db, ks, settings.batchUsers, 32, { rootOrgId: batchOrg, organisations: [batchOrg] })
    log('minting user tokens')
    const sWarmupUsers = tokensFor(keys, issuer, sWarmupIds)
    const sMeasured = tokensFor(keys, issuer, sMeasuredIds)
    const soakUsers = tokensFor(keys, issuer, soakIds)
    // The invalid-body caller: valid tokens of a user who is not seeded (the body check comes after both credentials).
    const [caller] = tokensFor(keys, issuer, [randomUUID()]) as [UserWithToken]
    const apiBearer = signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)
    const forgedBearer = signApiBearer(LOCAL_CONSUMER.key, 'not-the-consumer-secret-at-all')
    const validBody = JSON.stringify({ request: { userId: randomUUID() } })
    const requests: Record<'missingToken' | 'badSignature' | 'invalidBody', HttpRequestSpec> = {
      missingToken: { method: 'POST', path: PATH, headers: { 'content-type': 'application/json' }, body: validBody },
      badSignature: {
        method: 'POST',
        path: PATH,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${forgedBearer}`, 'x-authenticated-user-token': caller.token },
        body: validBody,
      },
      invalidBody: {
        method: 'POST',
        path: PATH,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiBearer}`, 'x-authenticated-user-token': caller.token },
        body: JSON.stringify({ request: {} }),
      },
    }
    const expectedStatus = { missingToken: 401, badSignature: 401, invalidBody: 400 } as const

    // --- drift check: does baseline B still issue what the service issues? --------------------------------
    log('drift check: recording the CQL of one real deletion (in-process service, after a warm-up deletion) and of baseline B')
    const driftRequest = ({ userId, token }: UserWithToken) => ({
      path: PATH,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiBearer}`, 'x-authenticated-user-token': token },
      userId,
    })
    const [driftWarmup, driftRecorded] = tokensFor(keys, issuer, [driftWarmupUser as string, driftServiceUser as string]) as [UserWithToken, UserWithToken]
    const drift = await checkBaselineMatchesService(config, { warmup: driftRequest(driftWarmup), recorded: driftRequest(driftRecorded) }, driftBaselineUser as string)
    const driftOk = 'matches' in drift && drift.matches
    if (!driftOk) {
      log('WARNING: baseline B no longer issues what the service issues for one deletion; update bench/raw-delete-sequence.ts')
      log(JSON.stringify(drift, null, 2))
    }

    // --- processes ---------------------------------------------------------------------------------------
    log('starting baseline A (bare Hono) and the built service (node dist/src/main.js)')
    baselineA = await startServerProcess(['bench/baseline-a-server.mjs'], {}, '/health')
    /** Starts the built service; its full GCs (with --trace-gc) are collected from here on. */
    const startService = async (): Promise<ServerProcess> => {
      fullGcs.length = 0
      // V8's --trace-gc times count from the process start.
      serviceStartedAt = Date.now()
      const started = await startServerProcess(
        ['dist/src/main.js'],
        // The contract tests' env (PEM key folder, local gateway consumer), on the bench keyspace.
        contractServerEnv(keys.dir, {
          NODE_ENV: 'production',
          CASSANDRA_KEYSPACE: ks,
          sunbird_sso_url: config.auth.userToken.ssoUrl,
          sunbird_sso_realm: config.auth.userToken.realm,
          LOG_LEVEL: settings.logLevel,
          // A deletion reads neither Sunbird's search engine nor its user cache: not configured, so
          // /ready waits for the servers the bench starts only.
          sunbird_es_host: '',
          sunbird_redis_host: '',
          // The batch row runs with the pace limit off, as many slices at once as B has deletions in flight.
          BATCH_MAX_DELETIONS_PER_SECOND: '0',
          BATCH_CONCURRENCY: String(settings.connections),
          BATCH_POLL_INTERVAL_MS: '250',
        }),
        '/ready',
        [...(settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : []), ...(settings.traceGc ? ['--trace-gc'] : [])],
        (line) => {
          // e.g. "[123:0x…]  75607 ms: Mark-Compact 43.8 (75.1) -> 24.2 (75.6) MB, …"
          const gc = /\s(\d+) ms: Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/.exec(line)
          // RSS read as the line arrives: right after the GC, the reading least blurred by garbage not yet collected.
          if (gc) fullGcs.push({ atSecond: Math.round(Number(gc[1]) / 1000), liveMB: Number(gc[2]), heapMB: Number(gc[3]), ...(servicePid && { rssMiB: safeRssMiB(servicePid) }) })
        },
      )
      servicePid = started.pid
      return started
    }
    service = await startService()
    const fixed = async (server: ServerProcess, request: HttpRequestSpec) => {
      const cpu0 = cpuMs(server.pid)
      const result = await runLoad<LoadResult>({ mode: 'fixed', url: server.url, connections: C, request, warmupSeconds: settings.warmupSeconds, durationSeconds: settings.durationSeconds })
      return { ...result, cpuUsPerRequest: round(((cpuMs(server.pid) - cpu0) * 1000) / (result.totalRequests + (result.warmupRequests ?? 0)), 1) }
    }

    // --- baseline A and the rejection paths, interleaved in rounds ---------------------------------------
    // A, then each rejection path, then A again…: a change in the machine's background load hits
    // both sides of a ratio instead of one.
    const aRuns: LoadResult[] = []
    const rejectionRuns: Record<keyof typeof requests, LoadResult[]> = { missingToken: [], badSignature: [], invalidBody: [] }
    for (let round = 1; round <= settings.rounds; round++) {
      log(`round ${round}/${settings.rounds}: baseline A, then the service's rejection paths, each -c ${C} -d ${settings.durationSeconds} after ${settings.warmupSeconds} s warm-up`)
      aRuns.push(await fixed(baselineA, { method: 'POST', path: PATH, headers: { 'content-type': 'application/json' }, body: validBody }))
      for (const name of Object.keys(requests) as (keyof typeof requests)[]) rejectionRuns[name].push(await fixed(service, requests[name]))
    }
    await baselineA.stop()
    baselineA = undefined
    const a = combineRuns(aRuns)
    const rejections = Object.fromEntries(Object.entries(rejectionRuns).map(([name, runs]) => [name, combineRuns(runs)])) as Record<keyof typeof requests, LoadResult>

    // --- baseline B and the full delete, interleaved in rounds -------------------------------------------
    // The servers share the two cores with the service: what each of them burns during B and during the
    // full delete shows where a difference between the two comes from.
    const backends = {
      cassandra: listenerPid(config.cassandra.port),
      keycloak: listenerPid(Number(new URL(config.auth.userToken.ssoUrl).port || 80)),
      kafka: listenerPid(Number(process.env.KAFKA_PORT ?? 19092)),
    }
    const backendCpu = () => Object.fromEntries(Object.entries(backends).map(([name, pid]) => [name, pid ? safeCpuMs(pid) : Number.NaN]))
    const backendCpuDuring = {
      baselineS: { cassandra: 0, keycloak: 0, kafka: 0 } as Record<string, number>,
      baselineE: { cassandra: 0, keycloak: 0, kafka: 0 } as Record<string, number>,
      baselineB: { cassandra: 0, keycloak: 0, kafka: 0 } as Record<string, number>,
      fullDelete: { cassandra: 0, keycloak: 0, kafka: 0 } as Record<string, number>,
    }
    if (settings.keycloakWarmupSeconds > 0) {
      log(`Keycloak warm-up: the admin call of a deletion (logout, 404) for ${settings.keycloakWarmupSeconds} s, ${C} at a time`)
      keycloakWarmup = await warmUpKeycloak(config, backends.keycloak, settings.keycloakWarmupSeconds, C)
      log(
        `Keycloak warm-up: ${keycloakWarmup.calls} calls; Keycloak CPU per call ${round(keycloakWarmup.first.cpuMsPerCall, 2)} ms in the first 10 s, ${round(keycloakWarmup.last.cpuMsPerCall, 2)} ms in the last`,
      )
    }
    if (settings.keycloakSettleSeconds > 0) {
      log(`waiting (at most ${settings.keycloakSettleSeconds} s) for Keycloak's own CPU to settle below ${KEYCLOAK_SETTLED_BELOW_MS_PER_SECOND} ms per second`)
      keycloakSettle = await waitForKeycloakToSettle(backends.keycloak, settings.keycloakSettleSeconds)
      log(`Keycloak ${keycloakSettle.settled ? 'settled' : 'still busy'} after ${keycloakSettle.seconds} s: ${keycloakSettle.idleMsPerSecond} ms of CPU per second idle`)
    }
    const addCpu = (into: Record<string, number>, before: Record<string, number>) => {
      const after = backendCpu()
      for (const name of Object.keys(before)) into[name] = (into[name] ?? 0) + ((after[name] ?? Number.NaN) - (before[name] ?? Number.NaN))
    }
    const bClient: Client = createCassandraClient(config.cassandra)
    await bClient.connect()
    const deleteHeaders = { 'content-type': 'application/json', authorization: `Bearer ${apiBearer}` }
    const bRuns: TimedRun[] = []
    const sunbirdRuns: TimedRun[] = []
    const erasureRuns: TimedRun[] = []
    // S and E, after B in each round: straight through cassandra-driver, like B.
    const cassandraOnlyBaselines = [
      { label: "S (Sunbird's deletion statements)", warmup: sunbirdWarmup, measured: sunbirdMeasured, run: runBaselineS, runs: sunbirdRuns, backendCpu: backendCpuDuring.baselineS },
      { label: "E (B's erasure alone)", warmup: erasureWarmup, measured: erasureMeasured, run: runErasureOnly, runs: erasureRuns, backendCpu: backendCpuDuring.baselineE },
    ]
    const sRuns: DeletesResult[] = []
    const drains: Awaited<ReturnType<typeof waitForOutboxDrain>>[] = []
    let bWarmErrors = 0
    let bCpuMs = 0
    let sCpuMs = 0
    let sRequests = 0
    let sWarmup: { statuses: Record<string, number>; errors: number; requests: number } | undefined
    for (let round = 1; round <= settings.rounds; round++) {
      const first = round === 1
      const bUsers = chunk(bMeasured, settings.rounds, round)
      const sUsers = chunk(sMeasured, settings.rounds, round)
      log(`round ${round}/${settings.rounds}: baseline B (raw CQL sequence), ${first ? `${bWarmup.length} warm-up + ` : ''}${bUsers.length} deletions, ${C} at a time`)
      if (first) bWarmErrors = (await runBaselineB(bClient, ks, bWarmup, C)).errors
      const bCpu0 = process.cpuUsage()
      const bBackends0 = backendCpu()
      bRuns.push(await runBaselineB(bClient, ks, bUsers, C))
      addCpu(backendCpuDuring.baselineB, bBackends0)
      const bCpu = process.cpuUsage(bCpu0)
      bCpuMs += (bCpu.user + bCpu.system) / 1000
      for (const baseline of cassandraOnlyBaselines) {
        const users = chunk(baseline.measured, settings.rounds, round)
        log(`round ${round}/${settings.rounds}: baseline ${baseline.label}, ${first ? `${baseline.warmup.length} warm-up + ` : ''}${users.length} deletions, ${C} at a time`)
        if (first) await baseline.run(bClient, ks, baseline.warmup, C)
        const backends0 = backendCpu()
        baseline.runs.push(await baseline.run(bClient, ks, users, C))
        addCpu(baseline.backendCpu, backends0)
      }
      log(`round ${round}/${settings.rounds}: service full delete over HTTP, ${first ? `${sWarmupUsers.length} warm-up + ` : ''}${sUsers.length} deletions, one distinct user per request, -c ${C}`)
      const sCpu0 = cpuMs(service.pid)
      const sBackends0 = backendCpu()
      const sRun = await runLoad<DeletesResult & { warmup?: { statuses: Record<string, number>; errors: number; requests: number } }>({
        mode: 'deletes',
        url: service.url,
        path: PATH,
        connections: C,
        deleteHeaders,
        warmupUsers: first ? sWarmupUsers : [],
        users: sUsers,
        fallback: requests.invalidBody,
      })
      sCpuMs += cpuMs(service.pid) - sCpu0
      addCpu(backendCpuDuring.fullDelete, sBackends0)
      sRequests += sUsers.length + (sRun.warmup?.requests ?? 0)
      sWarmup ??= sRun.warmup
      sRuns.push(sRun)
      // The relay publishes the round's events in the background; B must not share Cassandra with that backlog.
      const drain = await waitForOutboxDrain(db, ks)
      drains.push(drain)
      log(`event outbox: ${drain.drained ? `drained ${drain.seconds} s after the round` : `still ${drain.left} queued after ${drain.seconds} s`}`)
    }
    await bClient.shutdown()
    const b = combineTimedRuns(bRuns)
    const bSummary = summarize(b.latenciesMs)
    const sunbird = combineTimedRuns(sunbirdRuns)
    const sunbirdSummary = summarize(sunbird.latenciesMs)
    const erasure = combineTimedRuns(erasureRuns)
    const erasureSummary = summarize(erasure.latenciesMs)
    const s = {
      latenciesMs: sRuns.flatMap((r) => r.latenciesMs),
      statuses: sumStatuses(sRuns.map((r) => r.statuses)),
      errors: sRuns.reduce((n, r) => n + r.errors, 0),
      seconds: sRuns.reduce((n, r) => n + r.seconds, 0),
    }
    const sSummary = summarize(s.latenciesMs)

    // --- batch: 10,000 deletions as jobs, pace limit off ------------------------------------------------
    let batch: BatchRun | undefined
    const batchBackendCpu: Record<string, number> = { cassandra: 0, keycloak: 0, kafka: 0 }
    if (settings.batchUsers > 0) {
      const adminToken = mintUserToken(keys, issuer, { sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: batchOrg }] }] }, { ttlSeconds: 3 * 3600 })
      log(`batch: ${settings.batchUsers} deletions in jobs of at most 1,000, pace limit off, ${C} slices at once`)
      const batchBackends0 = backendCpu()
      batch = await runBatchJobs({
        url: service.url,
        headers: { authorization: `Bearer ${apiBearer}`, 'x-authenticated-user-token': adminToken },
        userIds: batchIds,
        maxSeconds: Math.max(600, settings.batchUsers / 5),
        log,
      })
      addCpu(batchBackendCpu, batchBackends0)
      log(`batch: ${batch.succeeded}/${batch.total} deleted in ${round(batch.seconds, 1)} s (${round(batch.deletionsPerSecond, 1)}/s), failed ${JSON.stringify(batch.failed)}`)
      const drain = await waitForOutboxDrain(db, ks)
      log(`event outbox after the batch: ${drain.drained ? `drained in ${drain.seconds} s` : `still ${drain.left} queued after ${drain.seconds} s`}`)
    }

    // --- soak --------------------------------------------------------------------------------------------
    // On a fresh service process: a 50-connection delete burst leaves V8 holding tens of MiB it hands
    // back only a minute or two later, which says nothing about whether the soak's own load leaks.
    const firstLogLines = service.lineCount()
    await service.stop()
    service = undefined
    log('soak: restarting the service')
    service = await startService()
    // Each soak phase deletes users of its own, taken in order from the seeded soak users.
    let soakCursor = 0
    const takeSoakUsers = (seconds: number) => {
      const from = soakCursor
      soakCursor += Math.ceil(seconds * settings.soakDeleteRate * 1.05) + settings.soakDeleteConnections
      return soakUsers.slice(from, soakCursor)
    }
    const serviceUrl = service.url
    const mixed = (durationSeconds: number) =>
      runLoad<MixedResult>({
        mode: 'mixed',
        url: serviceUrl,
        path: PATH,
        connections: settings.soakConnections,
        rejectionRate: settings.soakRate,
        deleteConnections: settings.soakDeleteConnections,
        deleteRate: settings.soakDeleteRate,
        durationSeconds,
        rejections: [requests.missingToken, requests.badSignature, requests.invalidBody],
        deleteHeaders,
        users: takeSoakUsers(durationSeconds),
      })
    log(`soak warm-up: ${settings.soakWarmupSeconds} s`)
    if (settings.soakWarmupSeconds > 0) await mixed(settings.soakWarmupSeconds)
    const rssStart = rssMiB(service.pid)
    const soakStartSecond = Math.round((Date.now() - serviceStartedAt) / 1000)
    const rssSamples: { second: number; rssMiB: number }[] = [{ second: 0, rssMiB: rssStart }]
    const soakT0 = Date.now()
    const sampler = setInterval(() => {
      const rss = safeRssMiB(servicePid ?? 0)
      if (rss !== undefined) rssSamples.push({ second: Math.round((Date.now() - soakT0) / 1000), rssMiB: rss })
    }, 5000)
    log(
      `soak: ${settings.soakSeconds} s, rejection paths at ${settings.soakRate} req/s (-c ${settings.soakConnections}) + deletes at ${settings.soakDeleteRate}/s (-c ${settings.soakDeleteConnections}); RSS at start ${rssStart} MiB`,
    )
    let soak: MixedResult
    try {
      soak = await mixed(settings.soakSeconds)
    } finally {
      clearInterval(sampler)
    }
    const rssEnd = rssMiB(service.pid)
    rssSamples.push({ second: Math.round((Date.now() - soakT0) / 1000), rssMiB: rssEnd })
    log(`soak done; RSS at end ${rssEnd} MiB`)
    const serviceLogLines = firstLogLines + service.lineCount()
    const serviceTail = service.tail()
    await service.stop()
    service = undefined

    // --- verdicts ----------------------------------------------------------------------------------------
    const aCheck = statusCheck(a, 200)
    const rows: TableRow[] = [
      { measure: 'A: bare Hono, same envelope from memory', reqPerSec: a.reqPerSec, p50Ms: a.latencyMs.p50, p99Ms: a.latencyMs.p99, cpuUs: a.cpuUsPerRequest, result: aCheck.ok ? '' : 'FAIL' },
    ]
    const rejectionReport: Record<string, unknown> = {}
    const labels = { missingToken: 'missing token (401)', badSignature: 'bad API bearer signature (401)', invalidBody: 'invalid body, valid tokens (400)' }
    for (const name of Object.keys(requests) as (keyof typeof requests)[]) {
      const r = rejections[name] as LoadResult
      const check = statusCheck(r, expectedStatus[name])
      const ratio = r.reqPerSec / a.reqPerSec
      const target = TARGETS.rejectionVsA[name]
      const pass = check.ok && aCheck.ok && ratio >= target
      rows.push({
        measure: `service: ${labels[name]}`,
        reqPerSec: r.reqPerSec,
        p50Ms: r.latencyMs.p50,
        p99Ms: r.latencyMs.p99,
        cpuUs: r.cpuUsPerRequest,
        ratio: `${ratio.toFixed(2)} × A`,
        target: `≥ ${target.toFixed(2)} × A`,
        result: verdict(pass),
      })
      rejectionReport[name] = { ...r, rounds: rejectionRuns[name], expectedStatus: expectedStatus[name], expectedStatusShare: check.share, ratioToA: round(ratio, 3), pass }
    }
    const bDeletesPerSec = b.latenciesMs.length / b.seconds
    const bCpuUs = round((bCpuMs * 1000) / Math.max(1, b.latenciesMs.length), 1)
    const perDeletion = (cpu: Record<string, number>, deletions: number) =>
      Object.fromEntries(Object.entries(cpu).map(([name, ms]) => [name, Number.isNaN(ms) ? null : round((ms * 1000) / Math.max(1, deletions), 0)]))
    const backendCpuUsPerDeletion = {
      baselineB: perDeletion(backendCpuDuring.baselineB, b.latenciesMs.length),
      fullDelete: perDeletion(backendCpuDuring.fullDelete, sRequests),
      baselineS: perDeletion(backendCpuDuring.baselineS, sunbird.latenciesMs.length),
      baselineE: perDeletion(backendCpuDuring.baselineE, erasure.latenciesMs.length),
    }
    const sCpuUs = round((sCpuMs * 1000) / Math.max(1, sRequests), 1)
    rows.push({ measure: 'B: raw CQL sequence of one deletion', reqPerSec: bDeletesPerSec, p50Ms: bSummary.p50, p99Ms: bSummary.p99, cpuUs: bCpuUs, result: b.errors === 0 ? '' : 'FAIL' })
    const sunbirdDeletesPerSec = sunbird.latenciesMs.length / sunbird.seconds
    rows.push({
      measure: "S: Sunbird's deletion statements",
      reqPerSec: sunbirdDeletesPerSec,
      p50Ms: sunbirdSummary.p50,
      p99Ms: sunbirdSummary.p99,
      result: sunbird.errors === 0 ? '' : 'FAIL',
    })
    const cassandraUs = {
      S: backendCpuUsPerDeletion.baselineS.cassandra,
      E: backendCpuUsPerDeletion.baselineE.cassandra,
      B: backendCpuUsPerDeletion.baselineB.cassandra,
      service: backendCpuUsPerDeletion.fullDelete.cassandra,
    }
    const timesS = (us: number | null | undefined) => (typeof us === 'number' && cassandraUs.S ? us / cassandraUs.S : Number.NaN)
    const erasureRatio = timesS(cassandraUs.E)
    rows.push({
      measure: "E: B's erasure alone (no request, lock, audit or event)",
      reqPerSec: erasure.latenciesMs.length / erasure.seconds,
      p50Ms: erasureSummary.p50,
      p99Ms: erasureSummary.p99,
      ratio: `Cassandra CPU ${Number.isNaN(erasureRatio) ? '?' : erasureRatio.toFixed(2)} × S`,
      result: erasure.errors === 0 ? '' : 'FAIL',
    })
    const s200 = s.statuses['200'] ?? 0
    const sOk = s200 === sMeasured.length && s.errors === 0 && b.errors === 0
    const p99Ratio = sSummary.p99 / bSummary.p99
    const p50Ratio = sSummary.p50 / bSummary.p50
    rows.push({
      measure: 'service: full delete over HTTP',
      reqPerSec: s200 / s.seconds,
      p50Ms: sSummary.p50,
      p99Ms: sSummary.p99,
      cpuUs: sCpuUs,
      ratio: `p50 ${p50Ratio.toFixed(2)}, p99 ${p99Ratio.toFixed(2)} × B`,
      target: `p99 ≤ ${TARGETS.fullDeleteP99VsB.toFixed(2)} × B`,
      result: verdict(sOk && p99Ratio <= TARGETS.fullDeleteP99VsB),
    })
    const fullDeletePerSec = s200 / s.seconds
    const throughputRatio = fullDeletePerSec / sunbirdDeletesPerSec
    rows.push({
      measure: 'service: full delete throughput vs S',
      reqPerSec: fullDeletePerSec,
      ratio: `${throughputRatio.toFixed(2)} × S`,
      target: `≥ ${TARGETS.fullDeleteThroughputVsS.toFixed(2)} × S`,
      result: verdict(sOk && sunbird.errors === 0 && throughputRatio >= TARGETS.fullDeleteThroughputVsS),
    })
    const cassandraRatio = timesS(cassandraUs.service)
    rows.push({
      measure: `Cassandra CPU per deletion (µs): S ${cassandraUs.S ?? '?'}, E ${cassandraUs.E ?? '?'}, B ${cassandraUs.B ?? '?'}, service ${cassandraUs.service ?? '?'}`,
      ratio: `${Number.isNaN(cassandraRatio) ? '?' : cassandraRatio.toFixed(2)} × S`,
      target: `≤ ${TARGETS.cassandraCpuVsS.toFixed(2)} × S`,
      result: verdict(!Number.isNaN(cassandraRatio) && cassandraRatio <= TARGETS.cassandraCpuVsS),
    })
    if (batch) {
      const batchRatio = batch.deletionsPerSecond / bDeletesPerSec
      const batchCassandraUs = Number.isNaN(batchBackendCpu.cassandra ?? Number.NaN) ? '?' : round(((batchBackendCpu.cassandra as number) * 1000) / Math.max(1, batch.succeeded), 0)
      rows.push({
        measure: `service: batch of ${batch.total.toLocaleString('en-US')} (${batch.jobs} jobs, pace limit off; Cassandra ${batchCassandraUs} µs/deletion)`,
        reqPerSec: batch.deletionsPerSecond,
        ratio: `${batchRatio.toFixed(2)} × B`,
        target: `≥ ${TARGETS.batchThroughputVsB.toFixed(2)} × B`,
        result: verdict(batch.unfinished === 0 && batch.succeeded === batch.total && batchRatio >= TARGETS.batchThroughputVsB),
      })
    }
    // V8 lets garbage pile up between full GCs (tens of MiB here), so a reading just before one and a
    // reading just after one differ by that much with no leak at all; and memory freed after the
    // warm-up goes back to the system only some full GCs later. So the soak's level is its lowest
    // RSS right after a full GC, in its first half and in its second: a leak raises the second.
    const soakGcs = fullGcs.filter((gc) => gc.atSecond >= soakStartSecond)
    const postGc = soakGcs.filter((gc): gc is typeof gc & { rssMiB: number } => gc.rssMiB !== undefined)
    const halfway = soakStartSecond + settings.soakSeconds / 2
    const lowest = (gcs: { rssMiB: number }[]) => Math.min(...gcs.map((gc) => gc.rssMiB))
    const [firstHalf, secondHalf] = [postGc.filter((gc) => gc.atSecond < halfway), postGc.filter((gc) => gc.atSecond >= halfway)]
    const judgedOnGcs = firstHalf.length > 0 && secondHalf.length > 0
    const [rssFrom, rssTo] = judgedOnGcs ? [lowest(firstHalf), lowest(secondHalf)] : [rssStart, rssEnd]
    const rssDrift = (rssTo - rssFrom) / rssFrom
    const soakOk = soak.rejections.errors === 0 && soak.deletes.errors === 0
    const soakDeleteLatency = summarize(soak.deletes.latenciesMs)
    rows.push({
      measure: `service: soak ${settings.soakSeconds} s (rejections + ${settings.soakDeleteRate} deletes/s)`,
      reqPerSec: soak.rejections.reqPerSec + soak.deletes.reqPerSec,
      p50Ms: soak.rejections.latencyMs.p50,
      p99Ms: soak.rejections.latencyMs.p99,
      rss: `${rssStart} → ${rssEnd}`,
      ratio: `${rssDrift >= 0 ? '+' : ''}${(rssDrift * 100).toFixed(1)} % RSS${judgedOnGcs ? ` after full GC, lowest per half (${rssFrom} → ${rssTo})` : ''}`,
      target: `within ±${TARGETS.soakRssDrift * 100} %`,
      result: verdict(soakOk && Math.abs(rssDrift) <= TARGETS.soakRssDrift),
    })
    const driftStatements = 'matches' in drift ? drift.serviceStatements.length : 0
    rows.push({
      measure: 'check: B issues the CQL the service issues',
      ratio: 'matches' in drift ? `${driftStatements} statements` : 'check failed',
      target: 'same statements',
      result: verdict(driftOk),
    })

    const table = renderTable(rows)
    const loadEnd = loadavg()
    const notes = [
      `service LOG_LEVEL=${settings.logLevel} (so logging does not dominate); it wrote ${serviceLogLines} log lines during the whole bench`,
      'CPU µs/req: user + system CPU of the server process per request (for B: of the bench process per deletion; for the full delete: of the service, its background event relay included): unlike req/s it barely depends on how the 2 shared cores were split',
      'req/s of B and the full delete: deletions per second',
      `A, the rejection paths, B and the full delete all use ${C} connections (B: ${C} concurrent deletions); autocannon runs in its own process on 127.0.0.1`,
      `${settings.rounds} interleaved rounds (A, rejection paths, A, …; B, full delete, B, …); A and rejection rows are the means of the rounds' autocannon values (whole ms), B and the full delete sort every sample of all rounds (float ms)`,
      `the soak row's p50/p99 are its rejection stream's (autocannon, corrected for coordinated omission); its deletes: ${soak.deletes.statuses['200'] ?? 0} answered 200, p50 ${soakDeleteLatency.p50} ms, p99 ${soakDeleteLatency.p99} ms`,
      'baseline B is Cassandra only: inside each deletion the service also calls the Keycloak admin API (logout answers 404 for these seeded users: the account step is "absent")',
      keycloakWarmup
        ? `Keycloak warmed up before the B / full-delete rounds (as a platform's Keycloak is): ${keycloakWarmup.calls} admin calls in ${settings.keycloakWarmupSeconds} s; its CPU per call ${round(keycloakWarmup.first.cpuMsPerCall, 2)} ms in the first 10 s, ${round(keycloakWarmup.last.cpuMsPerCall, 2)} ms in the last`
        : 'Keycloak not warmed up (BENCH_KEYCLOAK_WARMUP_SECONDS=0): its JIT warm-up lands on the full-delete and batch rows',
      keycloakSettle
        ? `then Keycloak ${keycloakSettle.settled ? 'settled' : 'was still busy'} after ${keycloakSettle.seconds} s: ${keycloakSettle.idleMsPerSecond} ms of its CPU per second with nobody calling it (BENCH_KEYCLOAK_SETTLE_SECONDS; below ${KEYCLOAK_SETTLED_BELOW_MS_PER_SECOND} counts as settled)`
        : 'no wait for Keycloak to settle (BENCH_KEYCLOAK_SETTLE_SECONDS=0)',
      'Kafka is up: the service relays every deletion event from its outbox in the background (not part of a request)',
      settings.traceGc
        ? `service full GCs during the soak (live heap MB / RSS MiB right after each): ${soakGcs.length ? soakGcs.map((gc) => `${gc.liveMB}/${gc.rssMiB ?? '?'} @${gc.atSecond}s`).join(', ') : 'none'} (--trace-gc); RSS column: raw readings at soak start and end`
        : 'service ran without --trace-gc (BENCH_TRACE_GC=0)',
      `server CPU per deletion (µs) during B: ${JSON.stringify(backendCpuUsPerDeletion.baselineB)}; during the full delete: ${JSON.stringify(backendCpuUsPerDeletion.fullDelete)}`,
      `load average (1 min) at start ${loadStart[0]?.toFixed(2)}, at end ${loadEnd[0]?.toFixed(2)} on ${cpus().length} CPUs: other work on the machine moves every number`,
    ]
    process.stdout.write(`\n${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`)

    const file = writeResults(
      {
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        git: { commit: git('rev-parse', 'HEAD'), dirtyFiles: git('status', '--porcelain').split('\n').filter(Boolean) },
        machine: { node: process.version, cpus: cpus().length, loadavgStart: loadStart, loadavgEnd: loadEnd },
        settings,
        targets: TARGETS,
        table: rows,
        markdown: table,
        notes,
        baselineA: { ...a, expectedStatusShare: aCheck.share, rounds: aRuns },
        rejections: rejectionReport,
        baselineB: {
          cpuUsPerDeletion: bCpuUs,
          deletesPerSec: round(bDeletesPerSec),
          seconds: round(b.seconds),
          errors: b.errors,
          firstError: b.firstError,
          warmupErrors: bWarmErrors,
          latencyMs: bSummary,
        },
        baselineE: { deletesPerSec: round(erasure.latenciesMs.length / erasure.seconds), seconds: round(erasure.seconds), errors: erasure.errors, latencyMs: erasureSummary },
        backendCpuUsPerDeletion,
        keycloakWarmup,
        keycloakSettle,
        batch: batch && { ...batch, backendCpuMs: batchBackendCpu },
        fullDelete: {
          cpuUsPerDeletion: sCpuUs,
          deletesPerSec: round(s200 / s.seconds),
          seconds: round(s.seconds),
          statuses: s.statuses,
          errors: s.errors,
          warmup: sWarmup,
          latencyMs: sSummary satisfies LatencySummary,
          ratioToB: { p50: round(p50Ratio, 3), p99: round(p99Ratio, 3) },
        },
        eventOutboxDrainAfterEachRound: drains,
        soak: {
          rejections: soak.rejections,
          deletes: { ...soak.deletes, latenciesMs: undefined, latencyMs: soakDeleteLatency },
          fullGcsDuringSoak: soakGcs,
          rssStartMiB: rssStart,
          rssEndMiB: rssEnd,
          rssMaxMiB: Math.max(...rssSamples.map((x) => x.rssMiB)),
          rssDrift: round(rssDrift, 4),
          rssDriftJudgedOn: judgedOnGcs ? 'RSS right after the first and the last full GC of the soak' : 'RSS at soak start and end',
          rssSamples,
          warmupSeconds: settings.soakWarmupSeconds,
        },
        driftCheck: drift,
        serviceLogTail: serviceTail,
      },
      started,
    )
    process.stdout.write(`\nresults: ${file}\n`)
  } finally {
    await baselineA?.stop()
    await service?.stop()
    await db.shutdown()
  }
}

main().then(
  // Keep-alive sockets of the in-process drift check would hold the process open for a while.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
