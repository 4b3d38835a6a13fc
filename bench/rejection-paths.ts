// `npx tsx bench/rejection-paths.ts`: the rejection rows of `npm run bench` alone, in a minute or two.
// Baseline A and the built service, each rejection path right after its own run of A, so a change in
// the shared machine's load hits both sides of each ratio. Prints req/s and the server's CPU µs per
// request. It needs Cassandra (the lock-out of the invalid-body path reads it): it migrates a keyspace
// of its own, REJECTION_KEYSPACE (sunbird_bench_rejections), and seeds nothing (the invalid-body
// caller is a user the keyspace does not hold).
//   REJECTION_ROUNDS (3), REJECTION_SECONDS (5), REJECTION_WARMUP_SECONDS (2), REJECTION_CONNECTIONS (50),
//   REJECTION_CPU_PROF=1: the service under `--cpu-prof` (profile in bench/results/profiles/),
//   REJECTION_PATHS=missingToken,invalidBody: only these (e.g. one profile per path),
//   REJECTION_SKIP_BUILD=1: run dist/ as it is,
//   REJECTION_OTHER_ROOTS=<folder>[,<folder>…]: also other builds, <folder>/dist/src/main.js (with
//   package.json, node_modules, schemas and config beside it, e.g. links to this project's), measured in
//   the same turns: each path runs on A then each other build, then A then this one.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { basename, join } from 'node:path'
import { signApiBearer } from '../scripts/lib/sign-jwt.js'
import { loadConfig } from '../src/config/load-config.js'
import { migrate } from '../src/store/migrations.js'
import { contractServerEnv } from '../test/support/contract-server.js'
import { LOCAL_CONSUMER } from '../test/support/harness.js'
import { buildServer } from '../test/support/spawned-server.js'
import { createRealmKeys } from '../test/support/user-tokens.js'
import { tokensFor, type UserWithToken } from './fixtures.js'
import { runLoad, type ServerProcess, startServerProcess } from './processes.js'

interface LoadResult {
  reqPerSec: number
  totalRequests: number
  warmupRequests?: number
  statuses: Record<string, number>
}

const number = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const rounds = number('REJECTION_ROUNDS', 3)
const seconds = number('REJECTION_SECONDS', 5)
const warmupSeconds = number('REJECTION_WARMUP_SECONDS', 2)
const connections = number('REJECTION_CONNECTIONS', 50)
const keyspace = process.env.REJECTION_KEYSPACE || 'sunbird_bench_rejections'
const PATH = '/api/user/v1/delete'
const onlyPaths = process.env.REJECTION_PATHS?.split(',')
/** Folders of other builds to measure beside this one (see the header). */
const otherRoots = process.env.REJECTION_OTHER_ROOTS?.split(',').filter(Boolean) ?? []

if (process.env.REJECTION_SKIP_BUILD !== '1') buildServer()
const keys = createRealmKeys('bench-kid')
const config = loadConfig({ cassandra: { keyspace }, auth: { userToken: { publicKeyDir: keys.dir } }, logging: { level: 'silent' } })
await migrate(config.cassandra)
const issuer = `${config.auth.userToken.ssoUrl}/realms/${config.auth.userToken.realm}`
const [caller] = tokensFor(keys, issuer, [randomUUID()]) as [UserWithToken]
const validBody = JSON.stringify({ request: { userId: randomUUID() } })
const json = { 'content-type': 'application/json' }
const requests = {
  missingToken: { method: 'POST', path: PATH, headers: json, body: validBody, status: 401 },
  badSignature: {
    method: 'POST',
    path: PATH,
    headers: { ...json, authorization: `Bearer ${signApiBearer(LOCAL_CONSUMER.key, 'not-the-consumer-secret-at-all')}`, 'x-authenticated-user-token': caller.token },
    body: validBody,
    status: 401,
  },
  invalidBody: {
    method: 'POST',
    path: PATH,
    headers: { ...json, authorization: `Bearer ${signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)}`, 'x-authenticated-user-token': caller.token },
    body: JSON.stringify({ request: {} }),
    status: 400,
  },
} as const

/** A process's CPU so far in ms, user and system apart (/proc/<pid>/stat, clock ticks of 10 ms): the system part is mostly the socket writes. */
function cpuSplitMs(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 }
}

/** One autocannon run against `server`: req/s, and the server's CPU per request (warm-up included), in all and in user space. */
async function measure(server: ServerProcess, request: { method: string; path: string; headers: Record<string, string>; body: string }) {
  const before = cpuSplitMs(server.pid)
  const result = await runLoad<LoadResult>({ mode: 'fixed', url: server.url, connections, request, warmupSeconds, durationSeconds: seconds })
  const after = cpuSplitMs(server.pid)
  const requestCount = result.totalRequests + (result.warmupRequests ?? 0)
  const userUs = ((after.user - before.user) * 1000) / requestCount
  return { reqPerSec: result.reqPerSec, cpuUs: userUs + ((after.system - before.system) * 1000) / requestCount, userUs, statuses: result.statuses }
}

const serviceEnv = contractServerEnv(keys.dir, { NODE_ENV: 'production', CASSANDRA_KEYSPACE: keyspace, LOG_LEVEL: 'warn', sunbird_es_host: '', sunbird_redis_host: '' })
const profileFlags = process.env.REJECTION_CPU_PROF === '1' ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : []
const baselineA = await startServerProcess(['bench/baseline-a-server.mjs'], {}, '/health')
/** The services measured, each right after A: this build, and the one of REJECTION_OTHER_ROOTS when given. */
const services: { name: string; server: ServerProcess }[] = []
for (const root of otherRoots) services.push({ name: basename(root), server: await startServerProcess([join(root, 'dist/src/main.js')], serviceEnv, '/ready', profileFlags) })
services.push({ name: 'service', server: await startServerProcess(['dist/src/main.js'], serviceEnv, '/ready', profileFlags) })

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(7)
const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
try {
  console.log(
    `load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}; ${rounds} rounds of ${warmupSeconds} + ${seconds} s, -c ${connections}`,
  )
  /** Per path and service: req/s over A's of the same turn, and CPU µs per request over A's. */
  const ratios = new Map<string, { reqPerSec: number[]; cpu: number[]; cpuUs: number[] }>()
  const aCpuUs: number[] = []
  for (let round = 1; round <= rounds; round++) {
    for (const [path, { status, ...request }] of Object.entries(requests).filter(([path]) => onlyPaths === undefined || onlyPaths.includes(path))) {
      for (const { name, server } of services) {
        const a = await measure(baselineA, { method: 'POST', path: PATH, headers: json, body: validBody })
        const r = await measure(server, request)
        const wrong = Object.keys(r.statuses).filter((code) => Number(code) !== status)
        if (wrong.length > 0) throw new Error(`${path}: answers other than ${status}: ${JSON.stringify(r.statuses)}`)
        aCpuUs.push(a.cpuUs)
        const entry = ratios.get(`${path} ${name}`) ?? { reqPerSec: [], cpu: [], cpuUs: [] }
        entry.reqPerSec.push(r.reqPerSec / a.reqPerSec)
        entry.cpu.push(r.cpuUs / a.cpuUs)
        entry.cpuUs.push(r.cpuUs)
        ratios.set(`${path} ${name}`, entry)
        console.log(
          `round ${round} ${path.padEnd(13)} A ${fmt(a.reqPerSec)} req/s ${fmt(a.cpuUs, 1)} µs (user ${fmt(a.userUs, 1)}) | ${name.padEnd(9)} ${fmt(r.reqPerSec)} req/s ${fmt(r.cpuUs, 1)} µs (user ${fmt(r.userUs, 1)}) | ${(r.reqPerSec / a.reqPerSec).toFixed(2)} × A, ${(r.cpuUs / a.cpuUs).toFixed(2)} × A's µs`,
        )
      }
    }
  }
  console.log(`medians (A ${median(aCpuUs).toFixed(1)} µs/req):`)
  for (const [key, entry] of ratios) {
    console.log(`  ${key.padEnd(21)} ${fmt(median(entry.cpuUs), 1)} µs/req  ${median(entry.cpu).toFixed(2)} × A's µs  ${median(entry.reqPerSec).toFixed(2)} × A req/s`)
  }
  console.log(
    `load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  )
} finally {
  await Promise.all([baselineA.stop(), ...services.map(({ server }) => server.stop())])
}
