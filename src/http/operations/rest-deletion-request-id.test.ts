import { describe, expect, it, vi } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'

/**
 * X-Request-Id names the deletion request the call made, for the status route to follow. A caller's
 * X-Request-Id that already names a request gives way to an id of the service's; the answer must
 * then name that id, also when the request deadline answers "accepted" while the deletion goes on.
 */

const ORG = 'org-1'
const EARLIER = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'
const TARGET = '2b373937-5a1c-4c1a-9d2e-0a8f1c2b3d41'
const REUSED_ID = 'client-chosen-request-id'

// A deadline the deletion reaches its lock well within, while Keycloak holds the step after it.
const fakes = appOverFakes(
  {
    seed: [
      { id: EARLIER, rootOrgId: ORG, organisationIds: [ORG] },
      { id: TARGET, rootOrgId: ORG, organisationIds: [ORG] },
    ],
  },
  { requestTimeoutMs: 1500 },
)
const orgAdmin = () => ({ authorization: `Bearer ${fakes.userToken({ sub: 'c0ffee00-0000-4000-8000-000000000001', roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })}` })
const session = () => ({ cookie: `neptun-session=${fakes.userToken({ sub: TARGET })}` })

/** A promise the test settles by hand, to hold a store call for as long as it likes. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

describe('a REST route answered at the request deadline, with an X-Request-Id that already names a request', () => {
  it.each([
    ['seed 003 (soft)', (id: string) => `/api/v2/user/${id}/`, orgAdmin],
    ['seed 003 (hard)', (id: string) => `/api/v2/user/${id}/?hard=1`, orgAdmin],
    ['seed 000', (id: string) => `/api/users/${id}/`, orgAdmin],
    ['seed 002', (id: string) => `/api/users/${id}`, session],
  ] as const)('%s: when Keycloak is still slow at the deadline, then X-Request-Id names this call’s own request, not the earlier one', async (_route, path, credentials) => {
    // Arrange: the caller's id names an earlier deletion (of another user); Keycloak then holds the target's.
    const world = fakes.reset()
    const earlier = await fakes.app.request(`/api/users/${EARLIER}/`, { method: 'DELETE', headers: { ...orgAdmin(), 'x-request-id': REUSED_ID } })
    expect(earlier.headers.get('x-request-id')).toBe(REUSED_ID)
    const keycloak = gate()
    const { eraseAccount, disableAccount } = world.identity
    world.identity.eraseAccount = async (userId) => {
      await keycloak.opened
      return eraseAccount.call(world.identity, userId)
    }
    world.identity.disableAccount = async (userId, onDisabled) => {
      await keycloak.opened
      return disableAccount.call(world.identity, userId, onDisabled)
    }

    // Act
    const response = await fakes.app.request(path(TARGET), { method: 'DELETE', headers: { ...credentials(), 'x-request-id': REUSED_ID } })

    // Assert: answered accepted while Keycloak holds the step; the id it names is the target's request.
    const own = world.requests.all().find((request) => request.userId === TARGET)
    expect(response.status, await response.clone().text()).toBeLessThan(300)
    expect(own?.id).toBeDefined()
    expect(own?.id).not.toBe(REUSED_ID)
    expect(response.headers.get('x-request-id')).toBe(own?.id)
    keycloak.open()
    await vi.waitFor(() => expect(world.requests.all().find((request) => request.userId === TARGET)?.state).toBe('completed'))
  })
})
