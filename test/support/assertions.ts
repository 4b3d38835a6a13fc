import { expect } from 'vitest'
import { errorCodes, type ErrorCode } from '../../src/http/error-codes.js'
import type { Envelope } from '../../src/http/envelope.js'
import { expectRestError, REST_ERROR_BODIES } from './rest-answers.js'

/** Asserts an error answer field by field, with the body in the message when it differs. */
export async function expectError(response: Response, code: ErrorCode): Promise<Envelope | string> {
  const entry = errorCodes[code]
  const text = await response.text()
  expect(response.status, text).toBe(entry.status)
  expect(response.headers.get('access-control-allow-origin')).toBe('*')
  if (code === 'FORBIDDEN') {
    expect(text).toBe(entry.errmsg)
    expect(response.headers.get('x-request-allowed')).toBe('no')
    return text
  }
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  const body = JSON.parse(text) as Envelope
  expect(body.params.err, text).toBe(entry.err)
  expect(body.params.status).toBe('FAILED')
  expect(body.responseCode).toBe(entry.responseCode)
  expect(body.result).toEqual({})
  if (!entry.errmsg.includes('{limit}')) expect(body.params.errmsg).toBe(entry.errmsg)
  return body
}

export async function expectDeleted(response: Response): Promise<Envelope> {
  const text = await response.text()
  expect(response.status, text).toBe(200)
  const body = JSON.parse(text) as Envelope
  expect(body.id).toBe('api.user.delete')
  expect(body.params).toMatchObject({ err: null, errmsg: null, status: 'SUCCESS' })
  expect(body.responseCode).toBe('OK')
  expect(body.result).toEqual({ response: 'SUCCESS' })
  expect(response.headers.get('x-response-length')).toBe('22')
  return body
}

/**
 * Asserts an error answer in the dialect of the operation that gave it. A new dialect adds its
 * assertion here (the shared security suite calls this for every authenticated operation).
 */
export async function expectErrorInDialect(dialect: string, response: Response, code: ErrorCode): Promise<void> {
  if (dialect === 'sunbird-envelope') {
    await expectError(response, code)
    return
  }
  if (dialect in REST_ERROR_BODIES) {
    await expectRestError(dialect, response, code)
    return
  }
  throw new Error(`no error assertion for dialect ${dialect}: add one to test/support/assertions.ts`)
}
