import { randomUUID } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser } from '../../scripts/lib/seed-users.js'
import { errorCodes } from '../../src/http/error-codes.js'
import { userDelete } from '../../src/http/operations/user-delete.js'
import { createSchemaRegistry } from '../../src/schemas/schema-registry.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

/**
 * Black-box: the built server as its own process, spoken to over HTTP, every JSON answer checked
 * against the response schemas in schemas/ (the same files the service and OpenAPI use).
 */
const schemas = createSchemaRegistry({ allErrors: true })
const successSchema = schemas.validator(userDelete.responseSchema as string)
const errorSchema = schemas.validator('error.response')

function expectValid(validate: typeof successSchema, body: unknown) {
  const ok = validate(body)
  expect(ok, JSON.stringify({ body, errors: validate.errors })).toBe(true)
}

describe('the built server over HTTP', () => {
  const db = createCassandraClient(testConfig().cassandra)
  let server: ContractServer

  beforeAll(async () => {
    server = await startContractServer()
  })
  afterAll(async () => {
    await server?.stop()
    await db.shutdown()
  })

  const post = (body: string, headers: Record<string, string>, path = '/api/user/v1/delete') =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })

  async function seeded() {
    const id = randomUUID()
    await seedUser(db, TEST_KEYSPACE, { id })
    return { id, headers: { authorization: `Bearer ${server.apiBearer}`, 'x-authenticated-user-token': server.userToken({ sub: id }) } }
  }

  it('when a user deletes themselves on both paths, then each success matches user-delete.response', async () => {
    for (const path of userDelete.paths) {
      const { id, headers } = await seeded()
      const response = await post(JSON.stringify({ request: { userId: id } }), headers, path)
      const body = (await response.json()) as Record<string, unknown>
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(response.headers.get('x-response-length')).toBe('22')
      expect(Object.keys(body)).toEqual(['id', 'ver', 'ts', 'params', 'responseCode', 'result'])
      expectValid(successSchema, body)
    }
  })

  it('when requests go wrong in every documented way, then each JSON answer matches error.response and its code', async () => {
    const { id, headers } = await seeded()
    const cases: [string, Promise<Response>, keyof typeof errorCodes][] = [
      ['bad json', post('{', headers), 'INVALID_REQUEST_DATA'],
      ['missing userId', post('{"request":{}}', headers), 'MANDATORY_PARAM_MISSING'],
      ['blank userId', post('{"request":{"userId":" "}}', headers), 'MANDATORY_PARAM_EMPTY'],
      ['number userId', post('{"request":{"userId":1}}', headers), 'DATA_TYPE_ERROR'],
      ['bad userId', post('{"request":{"userId":"nope"}}', headers), 'INVALID_USER_ID'],
      ['no api bearer', post(JSON.stringify({ request: { userId: id } }), { 'x-authenticated-user-token': headers['x-authenticated-user-token'] }), 'UNAUTHORIZED'],
      ['unknown user', post(JSON.stringify({ request: { userId: randomUUID() } }), headers), 'FORBIDDEN'],
      ['unknown path', post('{}', headers, '/api/user/v2/delete'), 'API_NOT_FOUND'],
      ['wrong method', fetch(`${server.url}/v1/user/delete`, { method: 'PUT' }), 'METHOD_NOT_ALLOWED'],
    ]
    for (const [label, pending, code] of cases) {
      const response = await pending
      const text = await response.text()
      expect(response.status, label).toBe(errorCodes[code].status)
      if (code === 'FORBIDDEN') {
        expect(text).toBe(errorCodes.FORBIDDEN.errmsg)
        continue
      }
      const body = JSON.parse(text)
      expectValid(errorSchema, body)
      expect(body.params.err, label).toBe(errorCodes[code].err)
    }
  })

  it('when the body is over the limit, then 413 is answered from Content-Length and for a chunked stream', async () => {
    const { headers } = await seeded()
    const big = await post(JSON.stringify({ request: { pad: 'x'.repeat(100_000) } }), headers)
    expect(big.status).toBe(413)
    expectValid(errorSchema, await big.json())

    // A chunked upload over a raw socket: no Content-Length, the server must stop reading at the cap.
    const url = new URL(server.url)
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: '/api/user/v1/delete', method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)))
      for (let i = 0; i < 10; i++) req.write('x'.repeat(16_384))
      req.end()
    })
    expect(status).toBe(413)
  })

  it('when a client sends Expect: 100-continue for a body over every limit, then the 413 comes first and no 100 Continue: it need not upload the body', async () => {
    const { headers } = await seeded()
    const url = new URL(server.url)
    const heard = await new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
      let continued = false
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: '/api/user/v1/delete',
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'content-length': String(50_000_000), expect: '100-continue' },
          // A connection of its own: the one of the chunked upload before is closed by the server
          // with its 413 (Connection: close), so this request never races that close.
          agent: false,
        },
        (res) => {
          res.resume()
          resolve({ continued, status: res.statusCode ?? 0 })
        },
      )
      req.on('continue', () => {
        continued = true
      })
      req.on('error', reject)
      req.flushHeaders()
    })

    expect(heard).toEqual({ continued: false, status: 413 })
  })

  it('when the server runs, then its log lines are JSON with a msgid and carry no token', async () => {
    const { id, headers } = await seeded()
    await post(JSON.stringify({ request: { userId: id } }), { ...headers, 'x-request-id': 'contract-trace-1' })
    await server.logged((line) => line.includes('"msgid":"contract-trace-1"') && line.includes('"msg":"request"'))
    const requestLines = server.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request')
    expect(requestLines.some((line) => line.msgid === 'contract-trace-1' && line.status === 200)).toBe(true)
    const all = server.logs.join('\n')
    expect(all).not.toContain(headers['x-authenticated-user-token'])
    expect(all).not.toContain(server.apiBearer)
  })
})
