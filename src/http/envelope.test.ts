import { describe, expect, it } from 'vitest'
import { createSchemaRegistry } from '../schemas/schema-registry.js'
import { formatSunbirdTimestamp } from '../shared/sunbird-timestamp.js'
import { apiIdForPath, errorEnvelope, errorEnvelopeJson, messageIdChosenBy, pickMessageId, successEnvelope } from './envelope.js'
import { errorCodes } from './error-codes.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const SUNBIRD_TS = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}:\d{3}\+0000$/

describe('formatSunbirdTimestamp', () => {
  it('when given a two-digit date and time, then it renders yyyy-MM-dd HH:mm:ss:SSS+0000 in UTC', () => {
    // Arrange
    const date = new Date(Date.UTC(2024, 10, 20, 21, 58, 56, 812))

    // Act
    const ts = formatSunbirdTimestamp(date)

    // Assert
    expect(ts).toBe('2024-11-20 21:58:56:812+0000')
  })

  it('when month, day, hour, minute and second are single digits, then each is zero-padded to two', () => {
    const date = new Date(Date.UTC(2024, 0, 5, 3, 4, 7, 123))

    const ts = formatSunbirdTimestamp(date)

    expect(ts).toBe('2024-01-05 03:04:07:123+0000')
  })

  it('when milliseconds have one or two digits, then they are zero-padded to three', () => {
    const oneDigit = new Date(Date.UTC(2024, 4, 20, 10, 8, 56, 7))
    const twoDigits = new Date(Date.UTC(2024, 4, 20, 10, 8, 56, 45))
    const zero = new Date(Date.UTC(2024, 4, 20, 0, 0, 0, 0))

    expect(formatSunbirdTimestamp(oneDigit)).toBe('2024-05-20 10:08:56:007+0000')
    expect(formatSunbirdTimestamp(twoDigits)).toBe('2024-05-20 10:08:56:045+0000')
    expect(formatSunbirdTimestamp(zero)).toBe('2024-05-20 00:00:00:000+0000')
  })

  it('when the instant is past midnight UTC but before it in a western zone, then the UTC calendar day is used', () => {
    // 00:30 UTC on 1 March is still 28/29 February in every western offset.
    const date = new Date('2024-03-01T00:30:00.000-00:00')

    expect(formatSunbirdTimestamp(date)).toBe('2024-03-01 00:30:00:000+0000')
  })

  it('when the instant is given with a non-UTC offset, then it is converted to UTC', () => {
    const date = new Date('2024-12-31T23:15:00.500-05:30')

    expect(formatSunbirdTimestamp(date)).toBe('2025-01-01 04:45:00:500+0000')
  })
})

describe('pickMessageId', () => {
  it('when both x-request-id and X-msgId are sent, then x-request-id wins', () => {
    expect(pickMessageId('req-123', 'msg-456')).toBe('req-123')
  })

  it('when only X-msgId is sent, then X-msgId is used', () => {
    expect(pickMessageId(undefined, 'msg-456')).toBe('msg-456')
  })

  it('when neither header is sent, then a fresh UUID v4 is generated for each request', () => {
    const first = pickMessageId(undefined, undefined)
    const second = pickMessageId(undefined, undefined)

    expect(first).toMatch(UUID_V4)
    expect(second).toMatch(UUID_V4)
    expect(first).not.toBe(second)
  })

  it('when x-request-id is a 32-hex nginx id, then it is echoed unchanged', () => {
    expect(pickMessageId('e413d019f31bcb2d3736b7054f1fd6e2', undefined)).toBe('e413d019f31bcb2d3736b7054f1fd6e2')
  })

  it.each([
    ['a newline', 'abc\ndef'],
    ['a carriage return', 'abc\r\nSet-Cookie: x=y'],
    ['a NUL byte', 'abc\u0000'],
    ['a tab', 'abc\tdef'],
    ['a DEL character', 'abc\u007f'],
    ['a space', 'abc def'],
    ['non-ASCII', 'abcé'],
    ['an empty value', ''],
  ])('when x-request-id contains %s, then it is not echoed and X-msgId is used instead', (_label, requestId) => {
    expect(pickMessageId(requestId, 'msg-456')).toBe('msg-456')
  })

  it('when x-request-id is longer than 255 characters, then it is not echoed', () => {
    const tooLong = 'a'.repeat(256)

    const msgid = pickMessageId(tooLong, undefined)

    expect(msgid).not.toBe(tooLong)
    expect(msgid).toMatch(UUID_V4)
  })

  it('when x-request-id is exactly 255 characters, then it is echoed', () => {
    const longest = 'b'.repeat(255)

    expect(pickMessageId(longest, undefined)).toBe(longest)
  })

  it('when both headers are unacceptable, then a UUID v4 is generated', () => {
    const msgid = pickMessageId('bad\nid', 'x'.repeat(300))

    expect(msgid).toMatch(UUID_V4)
  })
})

describe('messageIdChosenBy', () => {
  const chosenBy = (requestId: string | undefined, msgId: string | undefined) => messageIdChosenBy(pickMessageId(requestId, msgId), requestId, msgId)

  it('when the msgid is the x-request-id or the X-msgId the caller sent, then it is the caller’s', () => {
    expect(chosenBy('req-123', undefined)).toBe('caller')
    expect(chosenBy(undefined, 'msg-456')).toBe('caller')
    expect(chosenBy('bad\nid', 'msg-456')).toBe('caller')
  })

  it('when neither header was sent or usable, then the generated UUID is the service’s', () => {
    expect(chosenBy(undefined, undefined)).toBe('service')
    expect(chosenBy('bad\nid', 'x'.repeat(300))).toBe('service')
  })
})

describe('apiIdForPath', () => {
  it.each([
    ['/api/user/v1/delete', 'api.user.delete'],
    ['/v1/user/delete', 'api.user.delete'],
  ])('when the path is %s, then the api id is %s', (path, expected) => {
    expect(apiIdForPath(path)).toBe(expected)
  })

  it.each([
    ['/api/user/v1/search/Jane Doe/9876543210', 'api.user.search'],
    ['/api/user/v1/read/john.doe@example.com', 'api.user.read'],
    ['/api/user/v1/read/5a5e3b4e-0d41-4c1e-9d3a-7c2b1f0e3d41', 'api.user.read'],
    ['/api/user/v1/read/a5e3b4e0-0d41-4c1e-9d3a-7c2b1f0e3d41', 'api.user.read'],
    ['/api/user/v1/read/user42', 'api.user.read'],
    ['/openapi.json', 'api.openapi.json'],
    ['/docs/swagger-initializer.js', 'api.docs.swagger-initializer.js'],
    ['/api/user/v2/delete', 'api.user.v2.delete'],
    ['/api/user/v1/unknown', 'api.user.unknown'],
  ])('when the unknown path %s holds what a caller typed, then the id keeps only its plain words: %s', (path, expected) => {
    expect(apiIdForPath(path)).toBe(expected)
  })

  it.each(['/some/<script>/thing', '/foo', '/', '//double//slash/', '/api/user/v2/delete', '/apifoo', `/${'segment/'.repeat(30)}`])(
    'when the path is the unknown %s, then the id still matches the envelope schema id pattern',
    (path) => {
      // Arrange: the pattern is read from schemas/envelope.json, the contract every answer must meet.
      const envelopeSchema = createSchemaRegistry().schemas.get('envelope') as unknown as { properties: { id: { pattern: string } } }
      const idPattern = new RegExp(envelopeSchema.properties.id.pattern)

      // Act
      const id = apiIdForPath(path)

      // Assert
      expect(id).toMatch(idPattern)
      expect(id.length).toBeLessThanOrEqual(100)
      expect(id).not.toContain('<')
    },
  )
})

describe('envelopes', () => {
  it('when a success envelope is built, then its keys come in the order id, ver, ts, params, responseCode, result', () => {
    const envelope = successEnvelope('api.user.delete', 'msg-1', { response: 'SUCCESS' })

    expect(Object.keys(envelope)).toEqual(['id', 'ver', 'ts', 'params', 'responseCode', 'result'])
    expect(Object.keys(envelope.params)).toEqual(['resmsgid', 'msgid', 'err', 'status', 'errmsg'])
  })

  it('when a success envelope is serialised, then err and errmsg are explicit nulls and status is SUCCESS', () => {
    const envelope = successEnvelope('api.user.delete', 'msg-1', { response: 'SUCCESS' })

    const json = JSON.parse(JSON.stringify(envelope)) as { params: Record<string, unknown> }

    expect(json.params).toHaveProperty('err', null)
    expect(json.params).toHaveProperty('errmsg', null)
    expect(json.params.status).toBe('SUCCESS')
    expect(envelope).toMatchObject({ id: 'api.user.delete', ver: 'v1', responseCode: 'OK', result: { response: 'SUCCESS' } })
    expect(envelope.params.resmsgid).toBe('msg-1')
    expect(envelope.params.msgid).toBe('msg-1')
    expect(envelope.ts).toMatch(SUNBIRD_TS)
  })

  it('when an error envelope is built, then it keeps the same key order and carries the code, message and FAILED', () => {
    const entry = errorCodes.ALREADY_DELETED

    const envelope = errorEnvelope('api.user.delete', 'msg-2', entry, entry.errmsg)

    expect(Object.keys(envelope)).toEqual(['id', 'ver', 'ts', 'params', 'responseCode', 'result'])
    expect(Object.keys(envelope.params)).toEqual(['resmsgid', 'msgid', 'err', 'status', 'errmsg'])
    expect(envelope.params).toEqual({ resmsgid: 'msg-2', msgid: 'msg-2', err: 'UOS_USRDLT0008', status: 'FAILED', errmsg: 'User is already deleted.' })
    expect(envelope.responseCode).toBe('CLIENT_ERROR')
    expect(envelope.result).toEqual({})
  })
})

describe('errorEnvelopeJson', () => {
  const entries = Object.values(errorCodes)

  it.each([
    ['a plain msgid', 'api.user.delete', 'msg-1', undefined],
    ['a msgid with quotes and backslashes', 'api.user.delete', 'a"b\\c', undefined],
    ['a msgid with a control character, non-ASCII and a lone surrogate', 'api.user.delete', 'a\u0007\u00e9\ud800', undefined],
    ['a result to report', 'api.ready', 'msg-2', { checks: [{ name: 'cassandra', healthy: false }] }],
    ['an empty result', 'api.user.delete', 'msg-3', {}],
  ])('when the envelope carries %s, then its text is JSON.stringify of errorEnvelope for every entry of the table', (_case, apiId, msgid, result) => {
    for (const entry of entries) {
      // Within one millisecond both read the same ts; retry in the rare case the clock ticked between.
      for (let attempt = 0; ; attempt++) {
        const text = errorEnvelopeJson(apiId, msgid, entry, `${entry.errmsg} "quoted"`, result)
        const expected = JSON.stringify(errorEnvelope(apiId, msgid, entry, `${entry.errmsg} "quoted"`, result))
        if (text === expected || attempt > 3) {
          expect(text).toBe(expected)
          break
        }
      }
    }
  })
})
