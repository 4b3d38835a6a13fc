import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { apiIdForPath, errorEnvelope, pickMessageId, successEnvelope } from '../../../src/http/envelope.js'
import { errorCodes, type ErrorCode } from '../../../src/http/error-codes.js'
import { createSchemaRegistry } from '../../../src/schemas/schema-registry.js'
import { appOverFakes } from '../../support/fakes/app-over-fakes.js'

/**
 * The envelope renderer: whatever path, method and message ids a caller sends, every JSON answer is
 * an envelope valid against schemas/envelope.json, echoes the caller's id only when it is a plain
 * token, and a request without credentials writes nothing.
 */

const schemas = createSchemaRegistry({ allErrors: true })
const envelopeValid = schemas.validator('envelope')
const ACCEPTABLE_MSGID = /^[\x21-\x7e]{1,255}$/

/** Header values a client can put on the wire: visible ASCII, spaces, tabs, Latin-1 bytes, any length. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 300 }),
  fc.string({ unit: fc.constantFrom('\t', ' ', 'a', '-', '\x80', '\xff', 'é'), maxLength: 20 }),
  fc.uuid(),
)
const pathSegment = fc.oneof(fc.constantFrom('api', 'user', 'v1', 'delete', 'status', '..', '.', '', '%2e', '%00', 'v2'), fc.webSegment(), fc.string({ maxLength: 10 }).map(encodeURIComponent))
const paths = fc.array(pathSegment, { maxLength: 6 }).map((segments) => `/${segments.join('/')}`)
const methods = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD')

describe('the envelope renderer through the app', () => {
  const fakes = appOverFakes()

  it('when any method, path and message ids arrive without credentials, then every JSON answer is a valid envelope with a sound msgid, and nothing is written', async () => {
    await fc.assert(
      fc.asyncProperty(methods, paths, fc.option(headerValue, { nil: undefined }), fc.option(headerValue, { nil: undefined }), async (method, path, requestId, msgId) => {
        // Arrange
        const world = fakes.reset()
        const headers: Record<string, string> = { 'content-type': 'application/json' }
        if (requestId !== undefined) headers['x-request-id'] = requestId
        if (msgId !== undefined) headers['x-msgid'] = msgId

        // Act
        const response = await fakes.app.request(`http://localhost${path}`, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }) })
        const text = await response.text()

        // Assert
        expect(world.timeline.writes()).toEqual([])
        if (!response.headers.get('content-type')?.startsWith('application/json') || method === 'HEAD') return
        const body = JSON.parse(text) as { params: { msgid: string; resmsgid: string; err: string | null }; id: string; responseCode: string }
        if (!('params' in body)) return // /openapi.json: the document, not an envelope
        expect(envelopeValid(body), `${text}\n${JSON.stringify(envelopeValid.errors)}`).toBe(true)
        // An error is an entry of the table, status and all.
        if (body.params.err !== null) {
          const entries = Object.values(errorCodes).filter((entry) => entry.err === body.params.err && entry.status === response.status && entry.responseCode === body.responseCode)
          expect(entries.length, text).toBeGreaterThan(0)
        }
        expect(body.params.resmsgid).toBe(body.params.msgid)
        // Headers trims what the wire would strip, so the id the service saw is the trimmed one.
        const seenRequestId = requestId?.trim()
        const seenMsgId = msgId?.trim()
        if (seenRequestId !== undefined && ACCEPTABLE_MSGID.test(seenRequestId)) expect(body.params.msgid).toBe(seenRequestId)
        else if (seenMsgId !== undefined && ACCEPTABLE_MSGID.test(seenMsgId)) expect(body.params.msgid).toBe(seenMsgId)
        else expect(body.params.msgid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      }),
      { numRuns: 400 },
    )
  }, 60_000)
})

describe('the envelope builders', () => {
  const codes = Object.keys(errorCodes) as ErrorCode[]

  it('when any path and any message ids are rendered into any error of the table or a success, then the envelope is valid', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        fc.constantFrom(...codes),
        fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
        (path, requestId, msgId, code, result) => {
          const apiId = apiIdForPath(path)
          const msgid = pickMessageId(requestId, msgId)
          const entry = errorCodes[code]

          for (const envelope of [errorEnvelope(apiId, msgid, entry, entry.errmsg), successEnvelope(apiId, msgid, result)]) {
            expect(envelopeValid(envelope), `${JSON.stringify(envelope)}\n${JSON.stringify(envelopeValid.errors)}`).toBe(true)
            expect(Object.keys(envelope)).toEqual(['id', 'ver', 'ts', 'params', 'responseCode', 'result'])
          }
        },
      ),
      { numRuns: 1000 },
    )
  })
})
