import { expect } from 'vitest'
import { errorCodes, type ErrorCode } from '../../../src/http/error-codes.js'
import type { Envelope } from '../../../src/http/envelope.js'
import { createSchemaRegistry } from '../../../src/schemas/schema-registry.js'

const schemas = createSchemaRegistry({ allErrors: true })

export type Answer = { kind: 'ok'; status: number; body: Envelope } | { kind: 'error'; code: ErrorCode; body: Envelope | string }

/**
 * Reads an answer and fails the property unless it is one the contract documents for the route:
 * 200 with an envelope valid against `okSchema`, or an entry of the error table listed in
 * `allowed` (status, Sunbird err, responseCode and errmsg as the table spells them) with an
 * envelope valid against error.response (the 403 as its plain text).
 */
export async function documentedAnswer(response: Response, allowed: readonly ErrorCode[], okSchema?: string): Promise<Answer> {
  const text = await response.text()
  if (response.status === 200 && okSchema) {
    const body = JSON.parse(text) as Envelope
    const validate = schemas.validator(okSchema)
    expect(validate(body), `${text}\n${JSON.stringify(validate.errors)}`).toBe(true)
    return { kind: 'ok', status: 200, body }
  }
  if (response.status === 403) {
    expect(allowed, text).toContain('FORBIDDEN')
    expect(text).toBe(errorCodes.FORBIDDEN.errmsg)
    return { kind: 'error', code: 'FORBIDDEN', body: text }
  }
  const body = JSON.parse(text) as Envelope
  const validate = schemas.validator('error.response')
  expect(validate(body), `${text}\n${JSON.stringify(validate.errors)}`).toBe(true)
  const code = allowed.find((candidate) => {
    const entry = errorCodes[candidate]
    return entry.status === response.status && entry.err === body.params.err && entry.responseCode === body.responseCode
  })
  expect(code, `undocumented answer ${response.status} ${text}`).toBeDefined()
  const entry = errorCodes[code as ErrorCode]
  if (!entry.errmsg.includes('{limit}')) expect(body.params.errmsg).toBe(entry.errmsg)
  return { kind: 'error', code: code as ErrorCode, body }
}
