import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'
import {
  CallerLockedOutError,
  DeletionLimitReachedError,
  DependencyUnavailableError,
  keptChanging,
  NotPermittedError,
  RoleRestrictedError,
  UserAlreadyDeletedError,
  UserNotFoundError,
} from '../deletion/errors.js'
import { createLogger } from '../logging/logger.js'
import { capturedLogger } from '../../test/support/captured-logger.js'
import { ApiError } from './api-error.js'
import type { AppEnv } from './app-env.js'
import { errorCodes, type ErrorCode } from './error-codes.js'
import { sunbirdEnvelope } from './dialects/sunbird-envelope.js'
import { methodNotAllowed } from './method-not-allowed.js'
import { renderError } from './render-error.js'
import { requestContext } from './request-context.js'

const MAX_BODY_BYTES = 65536
const RETRY_AFTER_SECONDS = 7
const FORBIDDEN_TEXT = 'You do not have permission to perform this operation'
const SUNBIRD_TS = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}:\d{3}\+0000$/

type ErrorBody = {
  id: string
  ver: string
  ts: string
  params: { resmsgid: string; msgid: string; err: string; status: string; errmsg: string }
  responseCode: string
  result: Record<string, unknown>
}

/** requestContext, a route that throws what it is given, and the one error road, as app.ts wires them. */
function appThrowing(makeError: () => unknown, logger = createLogger('silent')) {
  const app = new Hono<AppEnv>()
  app.use('*', requestContext(logger))
  app.post('/api/user/v1/delete', () => {
    throw makeError()
  })
  app.onError((err, c) => renderError(c, err, { maxBodyBytes: MAX_BODY_BYTES, retryAfterSeconds: RETRY_AFTER_SECONDS, defaultDialect: sunbirdEnvelope }))
  return app
}

function call(makeError: () => unknown, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(appThrowing(makeError).request('/api/user/v1/delete', { method: 'POST', headers }))
}

const jsonCodes = (Object.keys(errorCodes) as ErrorCode[]).filter((code) => code !== 'FORBIDDEN')

describe('renderError for every entry of the error table', () => {
  it('when the table is read, then it still holds the codes this suite walks (guard against an empty walk)', () => {
    expect(jsonCodes.length).toBeGreaterThanOrEqual(14)
    expect(Object.keys(errorCodes)).toContain('FORBIDDEN')
  })

  it.each(jsonCodes)('when ApiError(%s) is thrown, then the answer has its status and a FAILED JSON envelope', async (code) => {
    // Arrange
    const entry = errorCodes[code]

    // Act
    const response = await call(() => new ApiError(code), { 'x-request-id': `req-${code}` })
    const body = (await response.json()) as ErrorBody

    // Assert
    expect(response.status).toBe(entry.status)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(Object.keys(body)).toEqual(['id', 'ver', 'ts', 'params', 'responseCode', 'result'])
    expect(body.id).toBe('api.user.delete')
    expect(body.ver).toBe('v1')
    expect(body.ts).toMatch(SUNBIRD_TS)
    expect(body.params).toEqual({
      resmsgid: `req-${code}`,
      msgid: `req-${code}`,
      err: entry.err,
      status: 'FAILED',
      errmsg: entry.errmsg.replace('{limit}', String(MAX_BODY_BYTES)),
    })
    expect(body.responseCode).toBe(entry.responseCode)
    expect(body.result).toEqual({})
  })

  it('when ApiError(FORBIDDEN) is thrown, then the answer is 403 plain text with x-request-allowed: no', async () => {
    const response = await call(() => new ApiError('FORBIDDEN'))

    expect(response.status).toBe(403)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(response.headers.get('x-request-allowed')).toBe('no')
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(await response.text()).toBe(FORBIDDEN_TEXT)
  })

  it('when the service is unavailable, then Retry-After carries the configured seconds', async () => {
    const response = await call(() => new ApiError('SERVICE_UNAVAILABLE'))

    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS))
  })

  it("when the mass-deletion guard refuses, then Retry-After is the guard's own seconds until its hour frees a deletion, not the configured default", async () => {
    const response = await call(() => new DeletionLimitReachedError(1234))

    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('1234')
  })

  it('when the error is neither a 503 nor a 429, then no Retry-After is sent', async () => {
    const response = await call(() => new ApiError('USER_NOT_FOUND'))

    expect(response.status).toBe(404)
    expect(response.headers.get('retry-after')).toBeNull()
  })

  it('when the payload is too large, then the message names the configured limit', async () => {
    const response = await call(() => new ApiError('PAYLOAD_TOO_LARGE'))
    const body = (await response.json()) as ErrorBody

    expect(response.status).toBe(413)
    expect(body.params.err).toBe('UOS_USRDLT0007')
    expect(body.params.errmsg).toBe('Maximum upload data size should be 65536')
  })

  it('when an ApiError carries headers, then they are sent with the answer', async () => {
    const response = await call(() => new ApiError('INVALID_REQUEST_DATA', { headers: { 'Content-Language': 'en' } }))

    expect(response.status).toBe(400)
    expect(response.headers.get('content-language')).toBe('en')
  })

  it('when a 405 is refused by methodNotAllowed, then its Allow (the error table header) names the methods given', async () => {
    const response = await call(() => methodNotAllowed(['POST', 'OPTIONS']))

    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('POST, OPTIONS')
  })

  it('when an ApiError has a reason, then the reason is not rendered', async () => {
    const response = await call(() => new ApiError('UNAUTHORIZED', { reason: 'user-token: expired for jane@example.org' }))
    const text = await response.text()

    expect(response.status).toBe(401)
    expect(text).not.toContain('jane@example.org')
    expect(text).not.toContain('expired')
  })
})

describe('renderError for errors that are not ApiErrors', () => {
  it('when an unexpected Error is thrown, then the answer is 500 UOS_0069 "server error" without the error message', async () => {
    const secret = 'row for jane.doe@example.org could not be decoded at 10.0.0.7'

    const response = await call(() => new Error(secret))
    const text = await response.text()
    const body = JSON.parse(text) as ErrorBody

    expect(response.status).toBe(500)
    expect(body.responseCode).toBe('SERVER_ERROR')
    expect(body.params.err).toBe('UOS_0069')
    expect(body.params.errmsg).toBe('server error')
    expect(body.params.status).toBe('FAILED')
    expect(body.result).toEqual({})
    expect(text).not.toContain('jane.doe@example.org')
    expect(text).not.toContain('10.0.0.7')
  })

  it.each([
    ['UserNotFoundError', () => new UserNotFoundError(), 404, 'UOS_USRDLT0013', 'user'],
    ['UserAlreadyDeletedError', () => new UserAlreadyDeletedError(), 400, 'UOS_USRDLT0008', 'User is already deleted.'],
    ['RoleRestrictedError', () => new RoleRestrictedError(), 400, 'UOS_USRDLT0083', 'User is restricted from deleting account based on roles!'],
    // The code a batch job records for the users left when its creator is locked out mid-job: the lock-out's own 401.
    ['CallerLockedOutError', () => new CallerLockedOutError(), 401, 'UOS_0070', 'You are not authorized.'],
    ['DependencyUnavailableError', () => new DependencyUnavailableError('cassandra'), 503, 'UOS_USRDLT0064', 'SERVICE UNAVAILABLE'],
    ['hono timeout (HTTPException 504)', () => new HTTPException(504, { message: 'Gateway Timeout' }), 503, 'UOS_USRDLT0064', 'SERVICE UNAVAILABLE'],
  ] as const)('when %s is thrown, then the answer is %i %s', async (_label, makeError, status, err, errmsg) => {
    const response = await call(makeError)
    const body = (await response.json()) as ErrorBody

    expect(response.status).toBe(status)
    expect(body.params.err).toBe(err)
    expect(body.params.errmsg).toBe(errmsg)
  })

  it('when a dependency is unavailable, then Retry-After is sent', async () => {
    const response = await call(() => new DependencyUnavailableError('cassandra'))

    expect(response.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS))
  })

  it('when the dependency answered but the request lost a race (worded by the service), then the refusal is logged as contention with that why; a plain outage as unavailable, without one', async () => {
    const { logger, lines } = capturedLogger()
    await appThrowing(() => keptChanging('the deletion request is held by another runner'), logger).request('/api/user/v1/delete', { method: 'POST' })
    await appThrowing(() => new DependencyUnavailableError('keycloak'), logger).request('/api/user/v1/delete', { method: 'POST' })

    const refusals = lines.filter((line) => line.msg === 'request refused')
    expect(refusals).toEqual([
      expect.objectContaining({
        code: 'UOS_USRDLT0064',
        reason: 'contended: lost a race to another runner (cassandra answered)',
        dependency: 'cassandra',
        why: 'the deletion request is held by another runner',
      }),
      expect.objectContaining({ code: 'UOS_USRDLT0064', reason: 'keycloak unavailable', dependency: 'keycloak' }),
    ])
    expect(refusals[1]).not.toHaveProperty('why')
  })

  it('when NotPermittedError is thrown, then the answer is the 403 plain text', async () => {
    const response = await call(() => new NotPermittedError('outside the admin organisations'))

    expect(response.status).toBe(403)
    expect(response.headers.get('x-request-allowed')).toBe('no')
    expect(await response.text()).toBe(FORBIDDEN_TEXT)
  })

  it('when an HTTPException other than 504 is thrown, then it is a 500 UOS_0069', async () => {
    const response = await call(() => new HTTPException(502, { message: 'upstream said no' }))
    const body = (await response.json()) as ErrorBody

    expect(response.status).toBe(500)
    expect(body.params.err).toBe('UOS_0069')
  })
})

describe('msgid in error answers', () => {
  it('when x-request-id is sent, then msgid and resmsgid echo it', async () => {
    const response = await call(() => new UserNotFoundError(), { 'x-request-id': 'abc-123', 'x-msgid': 'other' })
    const body = (await response.json()) as ErrorBody

    expect(body.params.msgid).toBe('abc-123')
    expect(body.params.resmsgid).toBe('abc-123')
  })

  it('when only X-msgId is sent, then msgid echoes it', async () => {
    const response = await call(() => new UserNotFoundError(), { 'X-msgId': 'from-msgid' })
    const body = (await response.json()) as ErrorBody

    expect(body.params.msgid).toBe('from-msgid')
  })

  it('when no id is sent, then msgid is a fresh UUID v4 and resmsgid equals it', async () => {
    const response = await call(() => new UserNotFoundError())
    const body = (await response.json()) as ErrorBody

    expect(body.params.msgid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(body.params.resmsgid).toBe(body.params.msgid)
  })
})
