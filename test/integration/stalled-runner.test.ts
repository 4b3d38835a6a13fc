import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectDeleted } from '../support/assertions.js'
import { auditEventsOf, requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { type HttpInterposer, startHttpInterposer } from '../support/http-interposer.js'
import { createKeycloakUser, keycloakUserStatus } from '../support/keycloak.js'
import { KEYCLOAK_URL } from '../support/test-env.js'

// A run that stalls past its lease (here: Keycloak holding its account removal) and comes back
// after the sweeper took its request over and finished it must change nothing: the request keeps
// the taker's outcome and receipt, and its end is audited once.
const LEASE_MS = 1_000

describe('when a deletion’s run stalls past its lease and the sweeper finishes the request meanwhile', () => {
  let h: Harness
  let keycloak: HttpInterposer
  beforeAll(async () => {
    keycloak = await startHttpInterposer(KEYCLOAK_URL)
    h = await startHarness({ auth: { keycloakAdmin: { baseUrl: keycloak.url, timeoutMs: 15_000, retries: 0 } }, deletion: { leaseMs: LEASE_MS } })
  })
  afterAll(async () => {
    await h?.close()
    await keycloak?.close()
  })

  it('then the caller hears SUCCESS, the request keeps the taker’s outcome and receipt, and one completion is audited', async () => {
    const person = await createKeycloakUser()
    await h.seed({ id: person.id, username: person.username, email: person.email })
    const removal = keycloak.holdNext((method, path) => method === 'DELETE' && path.endsWith(`/users/${person.id}`))

    const call = h.deleteRequest({ request: { userId: person.id } }, { 'x-authenticated-user-token': h.userToken({ sub: person.id }) })
    await removal.arrived
    await sleep(LEASE_MS + 200)
    await h.service.resumeOpen()
    const [taken] = await requestsOf(h.db, person.id)
    expect(taken?.state).toBe('completed')
    expect(await keycloakUserStatus(person.id)).toBe(404)

    removal.relay()

    await expectDeleted(await call)
    expect(await requestsOf(h.db, person.id)).toEqual([taken])
    expect(await auditEventsOf(h, taken?.id ?? '')).toEqual(['deletion.accepted', 'deletion.completed'])
  })
})
