// `npx tsx bench/rejection-cpu.ts`: the CPU each rejection path costs the built service's code (dist/,
// `npm run build` first), in one process, without sockets, against baseline A's app: the figure to
// compare two versions of the code with while the shared machine is busy. The service's app (createApp
// of dist/src/app.js, as src/compose.ts builds it, its workflow never reached) and A's bare Hono app
// (bench/baseline-a-server.mjs) are each driven through
// @hono/node-server's request listener with node:http request and response objects over a socket that
// discards what is written, 50 requests in flight, in alternating batches; the thread's CPU per
// request is the median over the batches. What it leaves out, the kernel's socket work and Node's
// parsing of the request, is the same for both, so a ratio here is larger than the bench's.
// The built code, not src/ through tsx: tsx keeps function names by a call on every closure made, which
// would make closures look far dearer than they are.
//   CPU_BATCHES (15), CPU_BATCH_REQUESTS (4000), CPU_PATHS=missingToken,… (all three),
//   CPU_OTHER_ROOTS=<folder>[,…]: other builds measured in the same batches, <folder>/dist/src/… (with
//   package.json and node_modules beside it, e.g. links to this project's), such as the build before a change.
import { randomUUID } from 'node:crypto'
import { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { getRequestListener } from '@hono/node-server'
import { Hono } from 'hono'
import { basename, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { signApiBearer } from '../scripts/lib/sign-jwt.js'
import { projectRoot } from '../src/config/project-root.js'
import { InMemoryIdempotencyKeys } from '../test/support/fakes/in-memory-idempotency-keys.js'
import { unusedServices } from '../test/support/unused-services.js'
import { createRealmKeys, mintUserToken } from '../test/support/user-tokens.js'

const batches = Number(process.env.CPU_BATCHES ?? 15)
const batchRequests = Number(process.env.CPU_BATCH_REQUESTS ?? 4000)
const IN_FLIGHT = 50
const PATH = '/api/user/v1/delete'
const SSO_URL = 'http://127.0.0.1:18080'
const CONSUMER = { key: 'bench-consumer', secret: 'bench-consumer-gateway-secret' }

/** Baseline A's app, as bench/baseline-a-server.mjs serves it. */
function baselineA(): Hono {
  const envelope = {
    id: 'api.user.delete',
    ver: 'v1',
    ts: '2026-11-24 10:08:56:812+0000',
    params: { resmsgid: 'e413d019-f31b-4cb2-9d37-36b7054f1fd6', msgid: 'e413d019-f31b-4cb2-9d37-36b7054f1fd6', err: null, status: 'SUCCESS', errmsg: null },
    responseCode: 'OK',
    result: { response: 'SUCCESS' },
  }
  const app = new Hono()
  app.post(PATH, (c) => c.json(envelope))
  return app
}

/** A module of the build in `root`, typed as its source. */
const built = <T>(root: string, module: string): Promise<T> => import(pathToFileURL(join(root, 'dist', 'src', module)).href) as Promise<T>

/** The app of the build in `root` as src/compose.ts builds it (middleware, operations, verifiers, schemas), its workflow never reached. */
async function serviceApp(root: string, realmDir: string) {
  const { createApp } = await built<typeof import('../src/app.js')>(root, 'app.js')
  const { ApiConsumerVerifier } = await built<typeof import('../src/auth/api-consumer-verifier.js')>(root, 'auth/api-consumer-verifier.js')
  const { DeletedUserGate } = await built<typeof import('../src/auth/deleted-user-gate.js')>(root, 'auth/deleted-user-gate.js')
  const { PemKeySource } = await built<typeof import('../src/auth/pem-key-source.js')>(root, 'auth/pem-key-source.js')
  const { UserTokenVerifier } = await built<typeof import('../src/auth/user-token-verifier.js')>(root, 'auth/user-token-verifier.js')
  const { createLogger } = await built<typeof import('../src/logging/logger.js')>(root, 'logging/logger.js')
  const { createServiceMetrics } = await built<typeof import('../src/metrics/service-metrics.js')>(root, 'metrics/service-metrics.js')
  const { createSchemaRegistry } = await built<typeof import('../src/schemas/schema-registry.js')>(root, 'schemas/schema-registry.js')
  return createApp({
    logger: createLogger('warn'),
    schemas: createSchemaRegistry(),
    maxBodyBytes: 1024 * 1024,
    requestTimeoutMs: 10_000,
    retryAfterSeconds: 5,
    apiConsumers: new ApiConsumerVerifier([{ key: CONSUMER.key, algorithm: 'HS256', secret: CONSUMER.secret }]),
    userTokens: new UserTokenVerifier({ ssoUrl: SSO_URL, realm: 'sunbird', keys: new PemKeySource(realmDir) }),
    deletedUsers: new DeletedUserGate({ standingInStore: async () => 'active', ttlMs: 250, maxEntries: 10_000 }),
    sessions: { startedAt: async () => undefined, clockSkewSeconds: 60 },
    sessionCookie: { name: 'session', allowedOrigins: [], secure: false },
    directTokenClients: [],
    metrics: createServiceMetrics(),
    idempotency: { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 },
    // No rejection reaches a deletion service; the service reads ready.
    ...unusedServices,
  })
}

/** A socket that takes every write at once and keeps nothing. */
function discardingSocket(): Socket {
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, done) {
      done()
    },
    writev(_chunks, done) {
      done()
    },
  }) as unknown as Socket
  Object.assign(socket, { remoteAddress: '127.0.0.1', encrypted: false, setTimeout: () => socket, setNoDelay: () => socket })
  return socket
}

interface Spec {
  headers: Record<string, string>
  body: string
  status: number
}

/** One request through the listener, as Node's HTTP server hands it over; resolves with the status once the answer is written. */
function send(listener: ReturnType<typeof getRequestListener>, spec: Spec): Promise<number> {
  const socket = discardingSocket()
  const req = new IncomingMessage(socket)
  req.method = 'POST'
  req.url = PATH
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.httpVersion = '1.1'
  const headers: Record<string, string> = { host: '127.0.0.1', 'content-length': String(Buffer.byteLength(spec.body)), ...spec.headers }
  req.headers = headers
  req.rawHeaders = Object.entries(headers).flat()
  const res = new ServerResponse(req)
  res.assignSocket(socket)
  const answered = new Promise<number>((resolve) => res.once('finish', () => resolve(res.statusCode)))
  listener(req, res)
  // The body arrives as Node's parser delivers it: right after the request was handed over.
  req.push(Buffer.from(spec.body))
  // As the parser marks it whole: an incomplete request ending would be taken as aborted, and its socket destroyed.
  req.complete = true
  req.push(null)
  return answered
}

/** Thread CPU in µs per request of `count` requests, `IN_FLIGHT` at a time. */
async function cpuPerRequest(listener: ReturnType<typeof getRequestListener>, spec: Spec, count: number): Promise<number> {
  let next = 0
  const start = process.cpuUsage()
  const worker = async () => {
    while (next++ < count) {
      const status = await send(listener, spec)
      if (status !== spec.status) throw new Error(`answered ${status}, expected ${spec.status}`)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  const used = process.cpuUsage(start)
  return (used.user + used.system) / count
}

const realm = createRealmKeys('bench-kid')
const userToken = mintUserToken(realm, `${SSO_URL}/realms/sunbird`, { sub: randomUUID() }, { ttlSeconds: 3600 })
const validBody = JSON.stringify({ request: { userId: randomUUID() } })
const json = { 'content-type': 'application/json' }
const paths: Record<string, Spec> = {
  missingToken: { headers: json, body: validBody, status: 401 },
  badSignature: {
    headers: { ...json, authorization: `Bearer ${signApiBearer(CONSUMER.key, 'not-the-consumer-secret-at-all')}`, 'x-authenticated-user-token': userToken },
    body: validBody,
    status: 401,
  },
  invalidBody: { headers: { ...json, authorization: `Bearer ${signApiBearer(CONSUMER.key, CONSUMER.secret)}`, 'x-authenticated-user-token': userToken }, body: '{"request":{}}', status: 400 },
}
const chosen = process.env.CPU_PATHS?.split(',') ?? Object.keys(paths)
const a = getRequestListener(baselineA().fetch)
const roots = [...(process.env.CPU_OTHER_ROOTS?.split(',').filter(Boolean) ?? []), projectRoot]
const services = await Promise.all(roots.map(async (root) => ({ name: root === projectRoot ? 'service' : basename(root), listener: getRequestListener((await serviceApp(root, realm.dir)).fetch) })))
const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

const aSpec: Spec = { headers: json, body: validBody, status: 200 }
for (const path of chosen) {
  const spec = paths[path]
  if (!spec) throw new Error(`unknown path ${path}`)
  // Warm-up: every app compiled by the JIT before anything counts.
  await cpuPerRequest(a, aSpec, batchRequests)
  for (const { listener } of services) await cpuPerRequest(listener, spec, batchRequests)
  const aUs: number[] = []
  const serviceUs = services.map(() => [] as number[])
  const ratios = services.map(() => [] as number[])
  for (let batch = 0; batch < batches; batch++) {
    // A before each build: a ratio compares batches run back to back. The builds take turns at going
    // first: a batch pays for garbage the batches before it left, so a fixed order favours the first.
    for (let turn = 0; turn < services.length; turn++) {
      const i = (batch + turn) % services.length
      const { listener } = services[i] as (typeof services)[number]
      const aBatch = await cpuPerRequest(a, aSpec, batchRequests)
      const serviceBatch = await cpuPerRequest(listener, spec, batchRequests)
      aUs.push(aBatch)
      serviceUs[i]?.push(serviceBatch)
      ratios[i]?.push(serviceBatch / aBatch)
    }
  }
  for (const [i, { name }] of services.entries()) {
    console.log(
      `${path.padEnd(13)} A ${median(aUs).toFixed(1).padStart(6)} µs/req  ${name.padEnd(9)} ${median(serviceUs[i] ?? [])
        .toFixed(1)
        .padStart(6)} µs/req  ${median(ratios[i] ?? []).toFixed(2)} × A (median of ${batches} batch ratios)`,
    )
  }
}
