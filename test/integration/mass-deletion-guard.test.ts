import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { types } from 'cassandra-driver'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { projectRoot } from '../../src/config/project-root.js'
import { startHarness, type Harness } from '../support/harness.js'

const ORG = `guard-org-${randomUUID()}`

describe('the mass-deletion guard (DELETION_MAX_PER_REQUESTER_PER_HOUR) across two instances', () => {
  let a: Harness
  let b: Harness
  // A trusted consumer of its own: the count is per requester and hour in the shared keyspace, and
  // the local one's deletions by other suites within the hour would count against it.
  const consumer = { key: `guard-service-${randomUUID()}`, secret: randomUUID() }
  beforeAll(async () => {
    const consumersFile = join(mkdtempSync(join(tmpdir(), 'guard-consumers-')), 'api-consumers.json')
    const local = JSON.parse(readFileSync(join(projectRoot, 'config', 'local', 'api-consumers.json'), 'utf8')) as unknown[]
    writeFileSync(consumersFile, JSON.stringify([...local, { ...consumer, algorithm: 'HS256', deleteAnyUser: true }]))
    const settings = { deletion: { maxPerRequesterPerHour: 3 }, auth: { apiBearer: { consumersFile } } }
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
    // A dry run answers what the real call would: refused too (it reads the count, takes no place).
    const dryRun = await a.deleteRequest({ request: { userId: users[3]!.id, dryRun: true } }, adminToken(a, admin))
    expect(dryRun.status).toBe(429)
    expect(((await dryRun.json()) as { params: { err: string } }).params.err).toBe('UOS_USRDLT0104')
    // Another requester is not limited by this one's count.
    expect((await a.deleteRequest({ request: { userId: users[3]!.id } }, adminToken(a, randomUUID()))).status).toBe(200)
  })

  it('when a consumer on a route without a user token (seed 001) has deleted the limit through both instances, then its next deletion is refused with 429 in that route’s shape and Retry-After, and nothing is done', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    const asConsumer = { authorization: `Bearer ${signApiBearer(consumer.key, consumer.secret)}` }
    const remove = (h: Harness, userId: string) => Promise.resolve(h.service.app.request(`/api/v1/users/${userId}`, { method: 'DELETE', headers: asConsumer }))
    const answers = [(await remove(a, users[0]!.id)).status, (await remove(b, users[1]!.id)).status, (await remove(a, users[2]!.id)).status]
    expect(answers).toEqual([204, 204, 204])

    const refused = await remove(b, users[3]!.id)

    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await refused.json()).toEqual({ statusCode: 429, message: 'Too many deletions by this requester in this hour.' })
    const row = (await a.db.execute(`SELECT isdeleted FROM ${a.config.cassandra.keyspace}.user WHERE id = ?`, [users[3]!.id], { prepare: true })).first()
    expect(row?.get('isdeleted')).not.toBe(true)
  })

  /** The requester's count over the last hour, read straight from the guard's table (a window crossing a clock hour reads two partitions). */
  const countedNow = async (requester: string) => {
    const minute = Math.floor(Date.now() / 60_000)
    const hours = [...new Set([Math.floor((minute - 59) / 60), Math.floor(minute / 60)])].map((hour) => types.Long.fromNumber(hour))
    const rows = await a.db.execute(
      `SELECT deleted FROM ${a.config.cassandra.keyspace}.user_deletion_requester_minutes WHERE requester = ? AND hour IN ? AND minute >= ?`,
      [requester, hours, types.Long.fromNumber(minute - 59)],
      { prepare: true },
    )
    return rows.rows.reduce((sum, row) => sum + ((row.get('deleted') as types.Long | null)?.toNumber() ?? 0), 0)
  }

  it('when deletions of one requester arrive at once on both instances, then no more than the limit succeed, the others are refused with 429 and nothing is done to their users, and only the successes stay counted', async () => {
    const admin = randomUUID()
    const users = await Promise.all(Array.from({ length: 8 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))

    const answers = await Promise.all(
      users.map((user, i) => {
        const h = i % 2 === 0 ? a : b
        return h.deleteRequest({ request: { userId: user.id } }, adminToken(h, admin))
      }),
    )

    const statuses = answers.map((answer) => answer.status)
    const succeeded = statuses.filter((status) => status === 200).length
    // A burst right at the limit may refuse a few more than needed; never let more through.
    expect(succeeded).toBeLessThanOrEqual(3)
    expect(statuses.filter((status) => status === 429)).toHaveLength(users.length - succeeded)
    for (const [i, user] of users.entries()) {
      if (statuses[i] !== 429) continue
      const row = (await a.db.execute(`SELECT isdeleted FROM ${a.config.cassandra.keyspace}.user WHERE id = ?`, [user.id], { prepare: true })).first()
      expect(row?.get('isdeleted')).not.toBe(true)
    }
    expect(await countedNow(`user:${admin}`)).toBe(succeeded)
  })

  it('when a refused deletion is retried with its Idempotency-Key, then the retry is judged anew (not a replay of the 429) and the refusals are not counted', async () => {
    const admin = randomUUID()
    const users = await Promise.all(Array.from({ length: 4 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    for (const user of users.slice(0, 3)) expect((await a.deleteRequest({ request: { userId: user.id } }, adminToken(a, admin))).status).toBe(200)
    const key = randomUUID()
    const withKey = (h: Harness) => ({ ...adminToken(h, admin), 'idempotency-key': key })

    const refused = await a.deleteRequest({ request: { userId: users[3]!.id } }, withKey(a))
    const retry = await b.deleteRequest({ request: { userId: users[3]!.id } }, withKey(b))

    expect(refused.status).toBe(429)
    expect(retry.status).toBe(429)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(Number(retry.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await countedNow(`user:${admin}`)).toBe(3)
  })

  it('when a requester over the limit deletes their own account, then it is never limited', async () => {
    const admin = await a.seed({ rootOrgId: ORG, organisations: [ORG] })
    const users = await Promise.all(Array.from({ length: 3 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    for (const user of users) expect((await a.deleteRequest({ request: { userId: user.id } }, adminToken(a, admin.id))).status).toBe(200)
    const self = await b.deleteRequest({ request: { userId: admin.id } }, adminToken(b, admin.id))
    expect(self.status).toBe(200)
  })

  it('when a requester over the limit deletes their own account on the session-cookie route (seed 002), then it is not limited, as its API reference (no 429) says', async () => {
    const admin = await a.seed({ rootOrgId: ORG, organisations: [ORG] })
    const users = await Promise.all(Array.from({ length: 3 }, () => a.seed({ rootOrgId: ORG, organisations: [ORG] })))
    for (const user of users) expect((await a.deleteRequest({ request: { userId: user.id } }, adminToken(a, admin.id))).status).toBe(200)
    const other = await a.seed({ rootOrgId: ORG, organisations: [ORG] })
    expect((await b.deleteRequest({ request: { userId: other.id } }, adminToken(b, admin.id))).status).toBe(429)

    const session = `neptun-session=${adminToken(b, admin.id)['x-authenticated-user-token']}`
    const self = await b.service.app.request(`/api/users/${admin.id}`, { method: 'DELETE', headers: { cookie: session } })

    expect(self.status, await self.clone().text()).toBe(200)
    expect(await self.text()).toBe('true')
  })
})
