import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import type { IdentityProvider, UserStore } from '../../src/deletion/ports.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { freePort } from '../support/spawned-server.js'
import { failWhen, withFaults } from '../support/faults.js'
import { startHarness, type Harness } from '../support/harness.js'
import { parsePrometheusText, sampleValue, type Sample } from '../support/prometheus-text.js'

const P = 'sunbird_user_delete_'
const DELETE = '/api/user/v1/delete'
const ORG = '0137000000000000000042'

async function scrape(h: Harness): Promise<Sample[]> {
  const response = await h.service.app.request('/metrics')
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
  return parsePrometheusText(await response.text())
}

/** Fault seams for chosen users only: their store read or Keycloak call fails as an outage would. */
const cassandraDownFor = new Set<string>()
const keycloakDownFor = new Set<string>()
const failingStoreFor = (store: UserStore): UserStore =>
  withFaults(
    store,
    failWhen(
      (method, args) => method === 'findRoles' && cassandraDownFor.has(args[0] as string),
      () => new DependencyUnavailableError('cassandra'),
    ),
  )
const failingIdentityFor = (identity: IdentityProvider): IdentityProvider =>
  withFaults(
    identity,
    failWhen(
      (_method, args) => keycloakDownFor.has(args[0] as string),
      () => new DependencyUnavailableError('keycloak'),
    ),
  )

describe('/metrics after real traffic', () => {
  let h: Harness
  let samples: Sample[]
  beforeAll(async () => {
    h = await startHarness({}, { users: failingStoreFor, identity: failingIdentityFor })
    const asUser = (userId: string) => ({ 'x-authenticated-user-token': h.userToken({ sub: userId }) })
    const asAdminOf = (organisationId: string) => ({
      'x-authenticated-user-token': h.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId }] }] }),
    })

    // Two deletions, one of them while Keycloak is "down" (the deletion still succeeds), then a
    // repeat by an admin of the user's organisation, and an admin of another one.
    const deleted = await h.seed({ rootOrgId: ORG })
    await expectDeleted(await h.deleteRequest({ request: { userId: deleted.id } }, asUser(deleted.id)))
    const keycloakDown = await h.seed()
    keycloakDownFor.add(keycloakDown.id)
    await expectDeleted(await h.deleteRequest({ request: { userId: keycloakDown.id } }, asUser(keycloakDown.id)))
    await expectError(await h.deleteRequest({ request: { userId: deleted.id } }, asAdminOf(ORG)), 'ALREADY_DELETED')
    await expectError(await h.deleteRequest({ request: { userId: deleted.id } }, asAdminOf('0137000000000000000999')), 'FORBIDDEN')
    const stranger = randomUUID()
    await expectError(await h.deleteRequest({ request: { userId: stranger } }, asUser(stranger)), 'USER_NOT_FOUND')
    const creator = await h.seed({ roles: [{ role: 'CONTENT_CREATOR' }] })
    await expectError(await h.deleteRequest({ request: { userId: creator.id } }, asUser(creator.id)), 'ROLE_RESTRICTED')
    const unlucky = await h.seed()
    cassandraDownFor.add(unlucky.id)
    await expectError(await h.deleteRequest({ request: { userId: unlucky.id } }, asUser(unlucky.id)), 'SERVICE_UNAVAILABLE')
    // Refused before the workflow (the deleted user's own token, a malformed id): requests, not deletions.
    await expectError(await h.deleteRequest({ request: { userId: deleted.id } }, asUser(deleted.id)), 'UNAUTHORIZED')
    const other = await h.seed()
    await expectError(await h.deleteRequest({ request: { userId: 'nope' } }, asUser(other.id)), 'INVALID_USER_ID')
    await expectError(await h.service.app.request('/api/user/v2/delete', { method: 'POST' }), 'API_NOT_FOUND')
    samples = await scrape(h)
  })
  afterAll(async () => {
    await h.close()
  })

  it('then requests are counted and timed by route, status and Sunbird err code ("none" on success)', () => {
    const count = (labels: Record<string, string>) => sampleValue(samples, `${P}http_requests_total`, labels)
    const timed = (labels: Record<string, string>) => sampleValue(samples, `${P}http_request_duration_seconds_count`, labels)

    expect(count({ method: 'POST', route: DELETE, status: '200', err: 'none' })).toBe(2)
    expect(count({ method: 'POST', route: DELETE, status: '403', err: 'FORBIDDEN' })).toBe(1)
    expect(count({ method: 'POST', route: DELETE, status: '404', err: 'UOS_USRDLT0013' })).toBe(1)
    expect(count({ method: 'POST', route: DELETE, status: '400', err: 'UOS_USRDLT0083' })).toBe(1)
    expect(count({ method: 'POST', route: DELETE, status: '400', err: 'UOS_USRDLT0008' })).toBe(1)
    expect(count({ method: 'POST', route: DELETE, status: '503', err: 'UOS_USRDLT0064' })).toBe(1)
    expect(count({ method: 'POST', route: DELETE, status: '401', err: 'UOS_0070' })).toBe(1)
    expect(count({ method: 'POST', route: DELETE, status: '400', err: 'UOS_USRDLT0009' })).toBe(1)
    // Unknown paths share one label: a caller cannot mint series by inventing URLs.
    expect(count({ method: 'POST', route: 'unmatched', status: '404', err: 'UOS_APINOTFOUND' })).toBe(1)
    expect(samples.some((s) => s.labels.route === '/api/user/v2/delete')).toBe(false)
    expect(timed({ method: 'POST', route: DELETE, status: '200', err: 'none' })).toBe(2)
    expect(sampleValue(samples, `${P}http_request_duration_seconds_bucket`, { route: DELETE, status: '200', err: 'none', le: '+Inf' })).toBe(2)
  })

  it('then deletions are counted by outcome, only for requests that reached the workflow', () => {
    const outcomes = Object.fromEntries(samples.filter((s) => s.name === `${P}deletions_total`).map((s) => [s.labels.outcome, s.value]))

    // Every outcome counted, and no other: the refusals before the workflow (a locked-out token, a malformed id, an unknown path) under none.
    expect(outcomes).toEqual({ success: 2, forbidden: 1, not_found: 1, role_restricted: 1, unavailable: 1, already_deleted: 1 })
  })

  it('then Cassandra calls made for the requests are timed', () => {
    const ok = sampleValue(samples, `${P}cassandra_call_duration_seconds_count`, { outcome: 'ok' }) ?? 0

    // Each deletion alone reads and writes several times; the exact number is the store's business.
    expect(ok).toBeGreaterThanOrEqual(10)
    expect(sampleValue(samples, `${P}cassandra_call_failures_total`, { reason: 'error' })).toBeUndefined()
  })

  it('then Keycloak calls are timed by outcome, and the outage is counted as a failure', () => {
    const erasures = samples.filter((s) => s.name === `${P}keycloak_call_duration_seconds_count` && s.labels.operation === 'erase_account')

    // The seeded users exist only in Cassandra: the real Keycloak answers that there is no such account.
    expect(erasures.find((s) => s.labels.outcome === 'absent')?.value).toBe(1)
    expect(erasures.find((s) => s.labels.outcome === 'unavailable')?.value).toBe(1)
    expect(sampleValue(samples, `${P}keycloak_call_failures_total`, { operation: 'erase_account', reason: 'unavailable' })).toBe(1)
  })

  it('then the process series are served too', () => {
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true)
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true)
  })
})

describe('/metrics of a service whose Cassandra is unreachable', () => {
  it("then its failed Cassandra calls are counted as unavailable, and it does not see other services' traffic", async () => {
    const h = await startHarness({ cassandra: { port: await freePort(), connectTimeoutMs: 500 } })
    try {
      const userId = randomUUID()
      await expectError(await h.deleteRequest({ request: { userId } }, { 'x-authenticated-user-token': h.userToken({ sub: userId }) }), 'SERVICE_UNAVAILABLE')

      const samples = await scrape(h)

      expect(sampleValue(samples, `${P}cassandra_call_failures_total`, { reason: 'unavailable' })).toBeGreaterThanOrEqual(1)
      expect(sampleValue(samples, `${P}cassandra_call_duration_seconds_count`, { outcome: 'ok' })).toBeUndefined()
      // Its own registry: one request so far (the scrape itself is counted after it answers).
      const requests = samples.filter((s) => s.name === `${P}http_requests_total`)
      expect(requests).toEqual([{ name: `${P}http_requests_total`, labels: { method: 'POST', route: DELETE, status: '503', err: 'UOS_USRDLT0064' }, value: 1 }])
    } finally {
      await h.close().catch(() => {})
    }
  })
})
