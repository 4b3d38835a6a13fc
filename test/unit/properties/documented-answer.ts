import { expect } from 'vitest'
import type { Envelope } from '../../../src/http/envelope.js'
import { type ErrorCode, errorEntry } from '../../../src/http/error-codes.js'
import type { OperationMeta } from '../../../src/http/operation.js'
import { createSchemaRegistry } from '../../../src/schemas/schema-registry.js'

const schemas = createSchemaRegistry({ allErrors: true })

export type Answer = { kind: 'ok'; status: number; body: Envelope } | { kind: 'error'; code: ErrorCode; body: Envelope | string }

/**
 * Reads an answer and fails the property unless it is one the operation's declaration documents:
 * 200 with a body valid against its `responseSchema`, or an entry of the error table it lists in
 * `errors` (status, Sunbird err, responseCode and errmsg as the table spells them) with a body
 * valid against its error schema (the 403 as its plain text). The operations under property
 * tests answer in the Sunbird envelope; another dialect needs its own reading here.
 */
export async function documentedAnswer(response: Response, operation: Pick<OperationMeta, 'id' | 'errors' | 'responseSchema' | 'errorSchemas' | 'dialect'>): Promise<Answer> {
  if (operation.dialect.name !== 'sunbird-envelope') throw new Error(`no reading of dialect ${operation.dialect.name}: add one to documented-answer.ts`)
  const text = await response.text()
  if (response.status === 200 && operation.responseSchema) {
    const body = JSON.parse(text) as Envelope
    const validate = schemas.validator(operation.responseSchema)
    expect(validate(body), `${text}\n${JSON.stringify(validate.errors)}`).toBe(true)
    expect(body.id).toBe(operation.id)
    return { kind: 'ok', status: 200, body }
  }
  const plainText = operation.errors.find((code) => errorEntry(code).body === 'plain-text' && errorEntry(code).status === response.status)
  if (plainText) {
    expect(text).toBe(errorEntry(plainText).errmsg)
    return { kind: 'error', code: plainText, body: text }
  }
  const body = JSON.parse(text) as Envelope
  const code = operation.errors.find((candidate) => {
    const entry = errorEntry(candidate)
    const sameMessage = entry.errmsg.includes('{limit}') || entry.errmsg === body.params.errmsg
    return entry.status === response.status && entry.err === body.params.err && entry.responseCode === body.responseCode && sameMessage
  })
  expect(code, `undocumented answer ${response.status} ${text}`).toBeDefined()
  const schemaId = operation.errorSchemas?.[code as ErrorCode] ?? 'error.response'
  const validate = schemas.validator(schemaId)
  expect(validate(body), `${text}\n${JSON.stringify(validate.errors)}`).toBe(true)
  expect(body.id).toBe(operation.id)
  return { kind: 'error', code: code as ErrorCode, body }
}
