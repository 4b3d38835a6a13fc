import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noCredentials } from '../../src/http/credentials/no-credentials.js'
import type { Operation } from '../../src/http/operation.js'
import { operations } from '../../src/http/operations/index.js'
import { readSchemas } from '../../src/schemas/schema-registry.js'
import { expectErrorInDialect } from '../support/assertions.js'
import { type CredentialWorld, credentialCases, DIRECT_TOKEN_CLIENTS } from '../support/credential-cases.js'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { type Harness, LOCAL_CONSUMER, startHarness } from '../support/harness.js'
import { ISSUER } from '../support/test-env.js'
import { mintUserToken } from '../support/user-tokens.js'
import { readUserState } from '../support/user-state.js'

/**
 * The shared security suite: every operation that needs credentials, taken from the operation
 * list, gets every refusal case of its credential scheme (missing, forged, expired, a deleted
 * user's token). A new operation is covered without a line written here.
 */
const authenticated = operations.filter((operation) => operation.credentials !== noCredentials)
const schemas = readSchemas()

/** The operation's documented example request: its first path (path parameters from their schema's examples) and its first body example. */
function exampleRequest(operation: Operation): { path: string; init: RequestInit } {
  const params = operation.request.params ? ((schemas.get(operation.request.params)?.examples as Record<string, string>[] | undefined)?.[0] ?? {}) : {}
  const path = operation.paths[0].replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? randomUUID()))
  const body = operation.request.body ? (schemas.get(operation.request.body)?.examples as unknown[] | undefined)?.[0] : undefined
  return { path, init: { method: operation.method, ...(body !== undefined && { body: JSON.stringify(body) }) } }
}

describe('the shared security suite, for every authenticated operation', () => {
  let h: Harness
  let world: CredentialWorld
  beforeAll(async () => {
    h = await startHarness({ auth: { userToken: { directClients: DIRECT_TOKEN_CLIENTS } } })
    const active = await h.seed()
    const deleted = await h.seed({ status: 2, isDeleted: true })
    world = { keys: h.keys, activeUserId: active.id, deletedUserId: deleted.id }
  })
  afterAll(async () => {
    // Nothing the refused requests carried may have changed anyone.
    expect((await readUserState(h.db, world.activeUserId)).user?.get('status')).toBe(1)
    await h.close()
  })

  const send = (operation: Operation, headers: Record<string, string>) => {
    const { path, init } = exampleRequest(operation)
    return h.service.app.request(path, { ...init, headers: { 'content-type': 'application/json', ...headers } })
  }

  it('when the operation list is read, then the authenticated operations are found and each scheme has its cases', () => {
    expect(authenticated.map((operation) => operation.id)).toEqual(expect.arrayContaining(['api.user.delete', 'api.user.delete.status']))
    for (const operation of authenticated)
      expect(credentialCases[operation.credentials.name], `add the cases of scheme ${operation.credentials.name} to test/support/credential-cases.ts`).toBeDefined()
  })

  it('when USER_TOKEN_DIRECT_CLIENTS is set, then the Sunbird route still takes a person’s token of another client: its gateway JWT is the second credential', async () => {
    const operation = authenticated.find((candidate) => candidate.id === 'api.user.delete.status')
    if (!operation) throw new Error('no status operation')
    const token = mintUserToken(world.keys, ISSUER, { sub: world.activeUserId, azp: 'another-app-of-the-realm' })

    const response = await send(operation, { authorization: `Bearer ${signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)}`, 'x-authenticated-user-token': token })

    expect(response.status, await response.text()).not.toBe(401)
  })

  describe.each(authenticated.map((operation) => [`${operation.method} ${operation.paths[0]}`, operation] as const))('%s', (_label, operation) => {
    const cases = credentialCases[operation.credentials.name]

    it.each((cases?.refused ?? []).map((refusal) => [refusal.name, refusal] as const))('when %s, then UNAUTHORIZED in the operation’s dialect', async (_name, refusal) => {
      const headers = refusal.headers(world)
      const response = await send(operation, headers)

      await expectErrorInDialect(operation.dialect.name, response, 'UNAUTHORIZED')
      // RFC 6750 §3: a bare challenge when no bearer token came, invalid_token when the one sent was refused.
      const sentBearer = /^Bearer \S/i.test(headers.authorization ?? '')
      expect(response.headers.get('www-authenticate')).toBe(cases?.bearerChallenge ? (sentBearer ? 'Bearer error="invalid_token"' : 'Bearer') : null)
    })

    it('when the credentials are valid, then the same request is not refused as unauthorized (the cases above are not vacuous)', async () => {
      const response = await send(operation, cases?.valid(world) ?? {})

      expect(response.status, await response.text()).not.toBe(401)
    })
  })
})
