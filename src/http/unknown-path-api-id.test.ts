import { describe, expect, it } from 'vitest'
import { appOverFakes } from '../../test/support/fakes/app-over-fakes.js'
import type { AnyDialect } from './dialect.js'
import { drfDetail } from './dialects/drf-detail.js'
import { sunbirdEnvelope } from './dialects/sunbird-envelope.js'
import { apiIdForPath, type Envelope } from './envelope.js'
import { errorEntry } from './error-codes.js'
import type { OperationMeta } from './operation.js'
import { restPrefixApiIds } from './unknown-path-api-id.js'

describe('the 404 of an unknown path, through the app', () => {
  const { app } = appOverFakes()

  async function notFound(path: string, method: string): Promise<{ body: Envelope; text: string }> {
    const response = await app.request(path, { method })
    const text = await response.text()
    expect(response.status, path).toBe(404)
    const body = JSON.parse(text) as Envelope
    expect(body.params.err).toBe(errorEntry('API_NOT_FOUND').err)
    return { body, text }
  }

  it.each([
    ['DELETE', '/api/users/jane.doe/orders', 'api.users'],
    ['DELETE', '/api/users/Jane Doe/x/', 'api.users'],
    ['GET', '/API/Users/jane/smith', 'api.users'],
    ['DELETE', '/api/v2/user/jane/doe/', 'api.v2.user'],
    ['DELETE', '/api/v1/users/jane/smith', 'api.v1.users'],
  ])('when %s %s is under a REST route’s prefix, then its id is the prefix’s own (%s): no word typed after the prefix is echoed', async (method, path, expected) => {
    const { body, text } = await notFound(path, method)

    expect(body.id).toBe(expected)
    expect(text.toLowerCase()).not.toContain('jane')
  })

  it.each([
    ['POST', '/api/user/v1/remove/jane', 'api.user.remove.jane'],
    ['POST', '/v1/user/remove/jane', 'api.user.remove.jane'],
    ['POST', '/api/user/v9/remove', 'api.user.v9.remove'],
  ])('when %s %s is a Sunbird-prefixed unknown path, then its id is still derived from the path as Sunbird derives it (%s)', async (method, path, expected) => {
    const { body } = await notFound(path, method)

    expect(body.id).toBe(expected)
    expect(body.id).toBe(apiIdForPath(path))
  })
})

describe('restPrefixApiIds', () => {
  const route = (dialect: unknown, ...paths: string[]) => ({ dialect, paths }) as unknown as OperationMeta

  it('when a REST route’s prefix also starts a Sunbird path, then unknown paths under it keep their derived id (Sunbird-prefixed paths answer as they did)', () => {
    const ids = restPrefixApiIds([route(sunbirdEnvelope, '/api/user/v1/delete'), route(drfDetail as AnyDialect, '/api/user/:id', '/api/people/:id')], sunbirdEnvelope)

    expect(ids('/api/user/v1/remove/jane')).toBeUndefined()
    expect(ids('/api/people/jane/x')).toBe('api.people')
  })
})
