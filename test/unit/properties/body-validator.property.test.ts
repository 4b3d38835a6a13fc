import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { operations } from '../../../src/http/operations/index.js'
import { userDelete } from '../../../src/http/operations/user-delete.js'
import { appOverFakes, FAKE_MAX_BODY_BYTES } from '../../support/fakes/app-over-fakes.js'
import { documentedAnswer } from './documented-answer.js'

/**
 * The body validator through the whole app, over in-memory ports that count every write: for every
 * operation of the API that takes a body, whatever body arrives (with valid credentials of the one
 * seeded user) on any of its paths, the answer is one its declaration documents, and a refusal
 * writes nothing.
 */

const ME = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'

const userIds = fc.oneof(
  fc.constant(ME),
  fc.constant(`f:sunbird-fed:${ME}`),
  fc.uuid(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  // The seeded id with one character changed, added or removed.
  fc.tuple(fc.nat({ max: ME.length }), fc.string({ minLength: 0, maxLength: 2 }), fc.nat({ max: 1 })).map(([at, insert, drop]) => ME.slice(0, at) + insert + ME.slice(at + drop)),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, '', '   ', `f:a:b:${ME}`, ME.toUpperCase(), `${ME}\n`, 'x'.repeat(200)),
)

const bodies = fc.oneof(
  // Shaped like the contract, with any userId and any extra members.
  fc
    .record({ request: fc.record({ userId: userIds, extra: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }), id: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ['request'] })
    .map((body) => JSON.stringify(body)),
  // Any JSON at all.
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  // Anything at all, JSON or not.
  fc.string({ unit: 'binary', maxLength: 200 }),
  // Over the body limit.
  fc.nat({ max: 64 }).map((extra) => JSON.stringify({ request: { userId: ME, pad: 'x'.repeat(FAKE_MAX_BODY_BYTES + extra) } })),
)

const withBody = operations.filter((operation) => operation.request.body !== undefined)

describe.each(withBody.map((operation) => [`${operation.method} ${operation.paths[0]}`, operation] as const))('any body on %s', (_label, operation) => {
  it('when any body arrives with valid credentials, then the answer is documented for the operation and a refusal writes nothing', async () => {
    const fakes = appOverFakes({ seed: [{ id: ME }] })
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': fakes.userToken({ sub: ME }) }
    await fc.assert(
      fc.asyncProperty(bodies, fc.constantFrom(...operation.paths), async (body, path) => {
        // Arrange: fresh ports each run, the caller being the one seeded user.
        const world = fakes.reset()

        // Act
        const response = await fakes.app.request(path, { method: operation.method, headers, body })
        const answer = await documentedAnswer(response, operation)

        // Assert
        if (answer.kind === 'error') expect(world.timeline.writes(), `${answer.code} after ${body.slice(0, 200)}`).toEqual([])
        if (answer.kind === 'ok' && operation === userDelete) expect(world.timeline.writes()).toContain('users.markDeleted')
      }),
      { numRuns: 300 },
    )
  }, 60_000)
})

it('when the operation list is read, then the operations that take a body are found (the properties above are not vacuous)', () => {
  expect(withBody.map((operation) => operation.id)).toEqual(expect.arrayContaining(['api.user.delete', 'api.user.delete.status']))
})
