// The load generator, run by bench/run.ts as its own process (never inside the server under test):
//   node bench/load-runner.mjs <spec.json> <result.json>
// Plain JavaScript on purpose: no transpiler in the process that makes the load.
//
// Modes (spec.mode):
//   fixed   one request again and again for `durationSeconds` (after `warmupSeconds` of the same),
//           autocannon's own req/s and latency percentiles.
//   deletes every request deletes the next user of `users` (after `warmupUsers`), so each user is
//           deleted exactly once: autocannon `requests` with `setupRequest`, `amount` = number of
//           users. Every response's own latency is kept (autocannon's 'response' event, float ms)
//           so the service and baseline B get the same percentile math.
//   mixed   the soak, for `durationSeconds`: the `rejections` requests in turn at `rejectionRate`
//           and, on connections of their own, deletes of the next user at `deleteRate`.
import { readFileSync, writeFileSync } from 'node:fs'
import autocannon from 'autocannon'

const [specFile, resultFile] = process.argv.slice(2)
if (!specFile || !resultFile) {
  console.error('usage: node bench/load-runner.mjs <spec.json> <result.json>')
  process.exit(2)
}
const spec = JSON.parse(readFileSync(specFile, 'utf8'))

/** Runs autocannon once; resolves its result plus every response's status and latency. */
function run(options, { keepLatencies = false } = {}) {
  return new Promise((resolve, reject) => {
    const latenciesMs = []
    const statuses = {}
    const started = process.hrtime.bigint()
    let lastResponse = started
    const instance = autocannon({ url: spec.url, connections: spec.connections, ...options }, (err, result) => {
      if (err) reject(err)
      else resolve({ result, latenciesMs, statuses, activeSeconds: Number(lastResponse - started) / 1e9 })
    })
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastResponse = process.hrtime.bigint()
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
      if (keepLatencies && statusCode === 200) latenciesMs.push(responseTime)
    })
  })
}

function summary({ result, statuses }) {
  return {
    reqPerSec: result.requests.average,
    totalRequests: result.requests.total,
    durationSeconds: result.duration,
    // autocannon's histogram: whole milliseconds.
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
  }
}

/** A request that deletes `user`, or `fallback` once there is no user left. */
function deleteRequest(user, fallback) {
  if (!user) {
    if (!fallback) throw new Error('no user left to delete')
    return { ...fallback, headers: { ...fallback.headers } }
  }
  return {
    method: 'POST',
    path: spec.path,
    headers: { ...spec.deleteHeaders, 'x-authenticated-user-token': user.token },
    body: JSON.stringify({ request: { userId: user.userId } }),
  }
}

async function fixed() {
  const request = spec.request
  const options = { url: `${spec.url}${request.path}`, method: request.method, headers: request.headers, body: request.body }
  const warmup = spec.warmupSeconds > 0 ? summary(await run({ ...options, duration: spec.warmupSeconds })) : undefined
  return { ...summary(await run({ ...options, duration: spec.durationSeconds })), warmupRequests: warmup?.totalRequests ?? 0 }
}

async function deleteUsers(users) {
  let next = 0
  const requests = [{ setupRequest: (req) => ({ ...req, ...deleteRequest(users[next++], spec.fallback) }) }]
  const outcome = await run({ amount: users.length, connections: Math.min(spec.connections, users.length), requests }, { keepLatencies: true })
  // autocannon notices the end at its next 1 s tick: time the run up to the last response instead.
  return { ...summary(outcome), latenciesMs: outcome.latenciesMs, sent: next, seconds: outcome.activeSeconds }
}

async function deletes() {
  const warmup = spec.warmupUsers.length > 0 ? await deleteUsers(spec.warmupUsers) : undefined
  const measured = await deleteUsers(spec.users)
  return { ...measured, warmup: warmup && { statuses: warmup.statuses, errors: warmup.errors, requests: warmup.totalRequests } }
}

async function mixed() {
  // Two streams at once, each on its own connections, so a slow delete never holds up the
  // rejections behind it on the same socket: the rejection paths in turn at `rejectionRate`, and
  // deletes of the next user at `deleteRate`.
  let next = 0
  let deletesSent = 0
  const rejections = spec.rejections.map((r) => ({ method: r.method, path: r.path, headers: r.headers, body: r.body }))
  const deleteNext = (req) => {
    const user = spec.users[next++]
    if (user) deletesSent++
    return { ...req, ...deleteRequest(user, spec.rejections[2]) }
  }
  const [rejected, deleted] = await Promise.all([
    run({ duration: spec.durationSeconds, connections: spec.connections, overallRate: spec.rejectionRate, requests: rejections }),
    run({ duration: spec.durationSeconds, connections: spec.deleteConnections, overallRate: spec.deleteRate, requests: [{ setupRequest: deleteNext }] }, { keepLatencies: true }),
  ])
  return {
    rejections: summary(rejected),
    deletes: { ...summary(deleted), deletesSent, usersLeft: Math.max(0, spec.users.length - next), latenciesMs: deleted.latenciesMs },
  }
}

const modes = { fixed, deletes, mixed }
const mode = modes[spec.mode]
if (!mode) {
  console.error(`unknown mode ${spec.mode}`)
  process.exit(2)
}
try {
  writeFileSync(resultFile, JSON.stringify(await mode()))
} catch (err) {
  console.error(err)
  process.exit(1)
}
