import { connect } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { Hono, type MiddlewareHandler } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { InMemoryIdempotencyKeys } from '../../test/support/fakes/in-memory-idempotency-keys.js'
import { unusedServices } from '../../test/support/unused-services.js'
import { ApiConsumerVerifier } from '../auth/api-consumer-verifier.js'
import { createLogger } from '../logging/logger.js'
import { createSchemaRegistry } from '../schemas/schema-registry.js'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'
import type { Verifiers } from './credentials/credential-scheme.js'
import { sunbirdEnvelope } from './dialects/sunbird-envelope.js'
import { isFinalJsonAnswer } from './final-json-answer.js'
import { operations } from './operations/index.js'
import { userDelete } from './operations/user-delete.js'
import { registerOperations } from './register-operations.js'
import { renderError } from './render-error.js'
import { requestContext } from './request-context.js'
import { requestDeadline } from './request-deadline.js'

const CONSUMER = { key: 'portal-consumer', secret: 'a-gateway-secret-of-enough-length' }
const DELETE_PATH = userDelete.paths[0] as string
const BODY = JSON.stringify({ request: { userId: '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41' } })

/**
 * The app as createApp composes its middleware and error road, with `setEarlier` (a middleware
 * setting a header before the answer) where asked: before requestContext, after it, or nowhere.
 * `final: false` answers every error through c.body, as an operation's own rendering does.
 */
function sunbirdApp(setEarlier: 'before' | 'after' | 'nowhere', { final = true } = {}) {
  const app = new Hono<AppEnv>()
  const renderOptions = { maxBodyBytes: 1024, retryAfterSeconds: 7, defaultDialect: sunbirdEnvelope }
  const errorOptions = { ...renderOptions, final }
  const setHeader: MiddlewareHandler<AppEnv> = (c, next) => {
    c.header('X-Set-Earlier', 'kept')
    return next()
  }
  if (setEarlier === 'before') app.use('*', setHeader)
  app.use('*', requestContext(createLogger('silent')))
  if (setEarlier === 'after') app.use('*', setHeader)
  app.use('*', requestDeadline(5000))
  registerOperations(app, operations, {
    services: unusedServices,
    verifiers: {
      apiConsumers: new ApiConsumerVerifier([{ key: CONSUMER.key, algorithm: 'HS256', secret: CONSUMER.secret }]),
      sessionCookie: { name: 'neptun-session', allowedOrigins: ['https://app.example'], secure: false },
    } as unknown as Verifiers,
    schemas: createSchemaRegistry(),
    maxBodyBytes: 1024,
    idempotency: { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 },
    renderError: (c, err) => renderError(c, err, renderOptions),
  })
  app.notFound((c) => renderError(c, new ApiError('API_NOT_FOUND'), errorOptions))
  app.onError((err, c) => renderError(c, err, errorOptions))
  return app
}

/** Sunbird's refusals on the app's own error road: 401 (no bearer, a forged one), 404, 405. */
const refusals: [string, string, RequestInit, number][] = [
  ['401 without a bearer', DELETE_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY }, 401],
  [
    '401 with a forged bearer',
    DELETE_PATH,
    { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signApiBearer(CONSUMER.key, 'not-the-consumer-secret-at-all')}` }, body: BODY },
    401,
  ],
  ['404', '/api/user/v1/no-such-route', { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY }, 404],
  ['405', DELETE_PATH, { method: 'GET' }, 405],
]

describe('a header set before the app’s error road answers', () => {
  it.each(refusals)('when nothing set one, then the Sunbird %s has the gateway’s CORS header, built by jsonAnswer unless it sets headers itself (405: Allow)', async (_name, path, init, status) => {
    const response = await sunbirdApp('nowhere').request(path, init)

    expect(response.status).toBe(status)
    expect(isFinalJsonAnswer(response)).toBe(status !== 405)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.has('x-set-earlier')).toBe(false)
  })

  it.each((['before', 'after'] as const).flatMap((at) => refusals.map(([name, path, init, status]) => [at, name, path, init, status] as const)))(
    'when a middleware %s requestContext set one, then the Sunbird %s carries it, as hono’s own answer would',
    async (at, _name, path, init, status) => {
      const response = await sunbirdApp(at).request(path, init)
      const throughHono = await sunbirdApp(at, { final: false }).request(path, init)

      expect(response.status).toBe(status)
      expect(isFinalJsonAnswer(response)).toBe(false)
      expect(response.headers.get('x-set-earlier')).toBe('kept')
      expect([...response.headers]).toEqual([...throughHono.headers])
    },
  )
})

/** The raw answer to `request` on a fresh socket: the header block and the body, as bytes on the wire. */
function rawAnswer(port: number, request: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = received.subarray(0, end).toString('latin1')
      const length = Number(/\r\nContent-Length: (\d+)/i.exec(head)?.[1])
      const body = received.subarray(end + 4)
      if (body.length < length) return
      socket.destroy()
      resolve({ head, body: body.toString('utf8') })
    })
    socket.on('error', reject)
    socket.write(request)
  })
}

/** What differs from one answer to the next: the Date header, the envelope's ts. */
const withoutClock = ({ head, body }: { head: string; body: string }) => ({
  head: head.replace(/\r\nDate: [^\r]*/, '\r\nDate: <date>'),
  body: body.replace(/"ts":"[^"]*"/, '"ts":"<ts>"'),
})

describe('jsonAnswer on the wire', () => {
  const servers: ServerType[] = []
  const ports: Record<'built' | 'throughHono', number> = { built: 0, throughHono: 0 }
  /** For each answer the first server sent: whether jsonAnswer built it. */
  const builtByJsonAnswer: boolean[] = []
  const listen = (app: Hono<AppEnv>, record = false) =>
    new Promise<number>((resolve) => {
      const fetch = async (request: Request) => {
        const response = await app.fetch(request)
        if (record) builtByJsonAnswer.push(isFinalJsonAnswer(response))
        return response
      }
      const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port))
      servers.push(server)
    })

  beforeAll(async () => {
    ports.built = await listen(sunbirdApp('nowhere'), true)
    ports.throughHono = await listen(sunbirdApp('nowhere', { final: false }))
  })
  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  })

  it.each([
    ['401 without a bearer', `POST ${DELETE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\nX-Request-ID: wire-1\r\n\r\n${BODY}`],
    ['404', `POST /api/user/v1/no-such-route HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: wire-2\r\nContent-Length: 0\r\n\r\n`],
  ])('when the Sunbird %s is built by jsonAnswer, then its header block and body are the bytes hono’s c.body answer sends', async (_name, request) => {
    builtByJsonAnswer.length = 0
    const built = withoutClock(await rawAnswer(ports.built, request))
    const throughHono = withoutClock(await rawAnswer(ports.throughHono, request))

    expect(builtByJsonAnswer).toEqual([true])
    expect(built.head).toMatch(/^HTTP\/1\.1 40[14] /)
    expect(built.head).toContain('\r\naccess-control-allow-origin: *\r\n')
    expect(built).toEqual(throughHono)
  })
})
