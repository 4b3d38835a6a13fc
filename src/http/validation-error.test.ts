import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../logging/logger.js'
import { createSchemaRegistry } from '../schemas/schema-registry.js'
import type { AppEnv } from './app-env.js'
import { sunbirdEnvelope } from './dialects/sunbird-envelope.js'
import { renderError } from './render-error.js'
import { requestContext } from './request-context.js'
import { errorCodes } from './error-codes.js'
import { noPreflight } from './cors.js'
import type { Verifiers } from './credentials/credential-scheme.js'
import { noCredentials } from './credentials/no-credentials.js'
import { defineOperation } from './operation.js'
import { registerOperations } from './register-operations.js'
import { errorCodeFor } from './validation-error.js'
import { InMemoryIdempotencyKeys } from '../../test/support/fakes/in-memory-idempotency-keys.js'
import { unusedServices } from '../../test/support/unused-services.js'

const USER_ID = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const registry = createSchemaRegistry()
const validateRequest = registry.validator('user-delete.request')

/** The Sunbird err code the schema assigns to a body, or null when the body is valid. */
function sunbirdErrFor(body: unknown): string | null {
  if (validateRequest(body)) return null
  const first = validateRequest.errors?.[0]
  if (!first) throw new Error('validator failed without an error')
  return errorCodes[errorCodeFor(first)].err
}

/** An operation that echoes its validated body, registered like every operation: JSON reading, schema validation, the one error road. */
const echo = defineOperation({
  id: 'api.user.delete',
  method: 'POST',
  paths: ['/api/user/v1/delete'],
  summary: 'echo',
  tag: 'users',
  credentials: noCredentials,
  request: { body: 'user-delete.request' },
  errors: [],
  dialect: sunbirdEnvelope,
  cors: noPreflight,
  async handle({ body }) {
    return { passed: true, body }
  },
})

const renderOptions = { maxBodyBytes: 65536, retryAfterSeconds: 5, defaultDialect: sunbirdEnvelope }

function createValidatingApp() {
  const app = new Hono<AppEnv>()
  app.use('*', requestContext(createLogger('silent')))
  registerOperations(app, [echo], {
    services: unusedServices,
    verifiers: {} as Verifiers,
    schemas: registry,
    maxBodyBytes: 65536,
    idempotency: { keys: new InMemoryIdempotencyKeys(), inFlightSeconds: 30 },
    renderError: (c, err) => renderError(c, err, renderOptions),
  })
  app.onError((err, c) => renderError(c, err, renderOptions))
  return app
}

async function post(rawBody: string): Promise<{ status: number; json: { params?: { err: string | null }; result?: unknown } }> {
  const app = createValidatingApp()
  const response = await app.request('/api/user/v1/delete', { method: 'POST', body: rawBody, headers: { 'content-type': 'application/json' } })
  return { status: response.status, json: (await response.json()) as { params?: { err: string | null }; result?: unknown } }
}

describe('user-delete.request schema mapped through errorCodeFor', () => {
  it.each([
    ['a string body', 'hello'],
    ['a number body', 42],
    ['a null body', null],
    ['an array body', [{ request: { userId: USER_ID } }]],
    ['an object without request', { userId: USER_ID }],
    ['request as a string', { request: USER_ID }],
    ['request as an array', { request: [{ userId: USER_ID }] }],
    ['request as null', { request: null }],
  ])('when the body is %s, then the code is UOS_USRDLT0028', (_label, body) => {
    expect(sunbirdErrFor(body)).toBe('UOS_USRDLT0028')
  })

  it.each([
    ['userId is absent', { request: {} }],
    ['userId is null', { request: { userId: null } }],
    ['only other keys are present', { request: { id: USER_ID } }],
  ])('when %s, then the code is UOS_USRDLT0030', (_label, body) => {
    expect(sunbirdErrFor(body)).toBe('UOS_USRDLT0030')
  })

  it.each([
    ['empty', ''],
    ['blank spaces', '   '],
    ['tabs and newlines', '\t\n'],
  ])('when userId is %s, then the code is UOS_USRDLT0031', (_label, userId) => {
    expect(sunbirdErrFor({ request: { userId } })).toBe('UOS_USRDLT0031')
  })

  it.each([
    ['a number', 12345],
    ['a boolean', true],
    ['an array', [USER_ID]],
    ['an object', { id: USER_ID }],
  ])('when userId is %s, then the code is UOS_USRDLT0003', (_label, userId) => {
    expect(sunbirdErrFor({ request: { userId } })).toBe('UOS_USRDLT0003')
  })

  it.each([
    ['a short word', 'abc'],
    ['longer than 128 characters', `f:${'p'.repeat(100)}:${USER_ID}`],
    ['a very long string', 'a'.repeat(10_000)],
    ['a uuid with trailing junk', `${USER_ID}x`],
    ['a uuid with a trailing newline', `${USER_ID}\n`],
    ['a uuid with leading junk', `x${USER_ID}`],
    ['a uuid with a SQL suffix', `${USER_ID}' OR '1'='1`],
    ['a uuid with spaces around it', ` ${USER_ID} `],
    ['a federated id with an empty provider', `f::${USER_ID}`],
  ])('when userId is %s, then the code is UOS_USRDLT0009', (_label, userId) => {
    expect(sunbirdErrFor({ request: { userId } })).toBe('UOS_USRDLT0009')
  })

  it.each([
    ['a lower-case uuid', USER_ID],
    ['an upper-case uuid', USER_ID.toUpperCase()],
    ['a federated id', `f:5a2e1c0d-provider:${USER_ID}`],
  ])('when userId is %s, then the body is valid', (_label, userId) => {
    expect(sunbirdErrFor({ request: { userId } })).toBeNull()
  })

  it('when the body has extra keys at the top level and inside request, then they are ignored and the body is valid', () => {
    const body = { id: 'api.user.delete', ver: '1.0', params: { msgid: 'x' }, request: { userId: USER_ID, reason: 'gdpr', extra: { a: 1 } } }

    expect(sunbirdErrFor(body)).toBeNull()
  })

  it('when an error comes from a schema without x-error-codes, then errorCodeFor falls back to INVALID_REQUEST_DATA', () => {
    const error = { keyword: 'minimum', instancePath: '/x', schemaPath: '#/minimum', params: {}, parentSchema: { minimum: 1 } }

    expect(errorCodeFor(error)).toBe('INVALID_REQUEST_DATA')
  })
})

describe("body validation in an operation's request chain", () => {
  it.each([
    ['malformed JSON', '{"request": {"userId": '],
    ['an empty body', ''],
    ['a JSON string', '"hello"'],
    ['a JSON array', `[{"request":{"userId":"${USER_ID}"}}]`],
    ['an object without request', `{"userId":"${USER_ID}"}`],
    ['request not an object', '{"request":"x"}'],
  ])('when the body is %s, then the answer is 400 UOS_USRDLT0028', async (_label, raw) => {
    const { status, json } = await post(raw)

    expect(status).toBe(400)
    expect(json.params?.err).toBe('UOS_USRDLT0028')
  })

  it.each([
    ['{"request":{}}', 'UOS_USRDLT0030'],
    ['{"request":{"userId":null}}', 'UOS_USRDLT0030'],
    ['{"request":{"userId":""}}', 'UOS_USRDLT0031'],
    ['{"request":{"userId":"   "}}', 'UOS_USRDLT0031'],
    ['{"request":{"userId":7}}', 'UOS_USRDLT0003'],
    ['{"request":{"userId":false}}', 'UOS_USRDLT0003'],
    ['{"request":{"userId":["a"]}}', 'UOS_USRDLT0003'],
    ['{"request":{"userId":{"id":"a"}}}', 'UOS_USRDLT0003'],
    ['{"request":{"userId":"abc"}}', 'UOS_USRDLT0009'],
    [`{"request":{"userId":"${USER_ID}junk"}}`, 'UOS_USRDLT0009'],
  ])('when the body is %s, then the answer is 400 %s', async (raw, err) => {
    const { status, json } = await post(raw)

    expect(status).toBe(400)
    expect(json.params?.err).toBe(err)
  })

  it('when the body is valid with unknown keys, then the handler runs and sees the body as sent', async () => {
    const raw = JSON.stringify({ id: 'api.user.delete', request: { userId: `f:provider:${USER_ID}`, note: 'x' } })

    const { status, json } = await post(raw)

    expect(status).toBe(200)
    expect(json.result).toEqual({ passed: true, body: { id: 'api.user.delete', request: { userId: `f:provider:${USER_ID}`, note: 'x' } } })
  })
})
