import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness } from '../support/harness.js'

const ORG = `guard-org-${randomUUID()}`

describe('the mass-deletion guard (DELETION_MAX_PER_REQUESTER_PER_HOUR) across two instances', () => {
  let a: Harness
  let b: Harness
  beforeAll(async () => {
    const settings = { deletion: { maxPerRequesterPerHour: 3 } }
    ;[a, b] = await Promise.all([startHarness(settings), startHarness(settings)])
  })
  afterAll(async () => {
    await Promise.all([a.close(), b.close()])
  })

  const adminToken = (h: Harness, sub: string) => ({ 'x-authenticated-user-token': h.userToken({ sub, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] }) })

  it('when a requester has deleted the limit through both instances and both paths, then the next deletion is refused with 429 and Retry-After, and nothing is done', async () => {
    const admin = randomUUID()
    const users = await Promise.all(Array.from({ length: 5 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const answers: number[] = []
    // A refusal does not count: an unknown user first.
    answers.push((await a.deleteRequest({ request: { userId: randomUUID() } }, adminToken(a, admin))).status)
    answers.push((await a.deleteRequest({ request: { userId: users[0]!.id } }, adminToken(a, admin))).status)
    answers.push((await b.deleteRequest({ request: { userId: users[1]!.id, mode: 'hard' } }, adminToken(b, admin), '/v1/user/delete')).status)
    answers.push((await a.deleteRequest({ request: { userId: users[2]!.id } }, adminToken(a, admin))).status)
    expect(answers).toEqual([404, 200, 200, 200])

    const refused = await b.deleteRequest({ request: { userId: users[3]!.id } }, adminToken(b, admin))

    expect(refused.status).toBe(429)
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(3600)
    const body = (await refused.json()) as { id: string; responseCode: string; params: { err: string; status: string; errmsg: string }; result: unknown }
    expect(body).toMatchObject({
      id: 'api.user.delete',
      responseCode: 'TOO_MANY_REQUESTS',
      params: { err: 'UOS_USRDLT0104', status: 'FAILED', errmsg: 'Too many deletions by this requester in this hour.' },
      result: {},
    })
    const row = (await a.db.execute(`SELECT isdeleted FROM ${a.config.cassandra.keyspace}.user WHERE id = ?`, [users[3]!.id], { prepare: true })).first()
    expect(row?.get('isdeleted')).not.toBe(true)
    // A dry run is not a deletion: still answered.
    expect((await a.deleteRequest({ request: { userId: users[3]!.id, dryRun: true } }, adminToken(a, admin))).status).toBe(200)
    // Another requester is not limited by this one's count.
    expect((await a.deleteRequest({ request: { userId: users[3]!.id } }, adminToken(a, randomUUID()))).status).toBe(200)
  })

  it('when a requester over the limit deletes their own account, then it is never limited', async () => {
    const admin = await a.seed({ rootOrgId: ORG, organisations: [ORG] })
    const users = await Promise.all(Array.from({ length: 3 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    for (const user of users) expect((await a.deleteRequest({ request: { userId: user.id } }, adminToken(a, admin.id))).status).toBe(200)
    const self = await b.deleteRequest({ request: { userId: admin.id } }, adminToken(b, admin.id))
    expect(self.status).toBe(200)
  })
})
