import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { userDeleteRoute } from '../../../src/http/routes/user-delete.js'
import { userDeleteStatusRoute } from '../../../src/http/routes/user-delete-status.js'
import { appOverFakes, FAKE_MAX_BODY_BYTES } from '../../support/fakes/app-over-fakes.js'
import { documentedAnswer } from './documented-answer.js'

/**
 * The body validator through the whole app, over in-memory ports that count every write: whatever
 * body arrives (with valid credentials of the one seeded user), the answer is one the route
 * documents, and a refusal writes nothing.
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
  fc.record({ request: fc.record({ userId: userIds, extra: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }), id: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ['request'] }).map((body) => JSON.stringify(body)),
  // Any JSON at all.
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  // Anything at all, JSON or not.
  fc.string({ unit: 'binary', maxLength: 200 }),
  // Over the body limit.
  fc.nat({ max: 64 }).map((extra) => JSON.stringify({ request: { userId: ME, pad: 'x'.repeat(FAKE_MAX_BODY_BYTES + extra) } })),
)

describe.each([
  { route: userDeleteRoute, okSchema: 'user-delete.response' },
  { route: userDeleteStatusRoute, okSchema: 'user-delete-status.response' },
])('any body on $route.paths.0', ({ route, okSchema }) => {
  it('when any body arrives with valid credentials, then the answer is documented for the route and a refusal writes nothing', async () => {
    const fakes = appOverFakes({ seed: [{ id: ME }] })
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': fakes.userToken({ sub: ME }) }
    await fc.assert(
      fc.asyncProperty(bodies, fc.constantFrom(...route.paths), async (body, path) => {
        // Arrange: fresh ports each run, the caller being the one seeded user.
        const world = fakes.reset()

        // Act
        const response = await fakes.app.request(path, { method: 'POST', headers, body })
        const answer = await documentedAnswer(response, route.errors, okSchema)

        // Assert
        if (answer.kind === 'error') expect(world.timeline.writes(), `${answer.code} after ${body.slice(0, 200)}`).toEqual([])
        if (answer.kind === 'ok' && route === userDeleteRoute) expect(world.timeline.writes()).toContain('users.markDeleted')
      }),
      { numRuns: 300 },
    )
  }, 60_000)
})
