import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signApiBearer } from '../../scripts/lib/sign-jwt.js'
import { seedUser, type SeedUser } from '../../scripts/lib/seed-users.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { LOCAL_CONSUMER, testConfig } from '../support/harness.js'
import { createKeycloakUser, type KeycloakTestUser } from '../support/keycloak.js'
import { ISSUER, TEST_KEYSPACE } from '../support/test-env.js'
import { createRealmKeys, mintUserToken } from '../support/user-tokens.js'
import { requestsOf } from '../support/deletion-requests.js'
import { encryptUserAsSunbird } from '../support/sunbird-encryption.js'

type LogLine = Record<string, unknown> & { msg?: string; msgid?: string; requestId?: string }

// Lines that belong to the process, not to a request. A new background job that logs on its own
// (not on behalf of a request) adds its message here.
const PROCESS_MESSAGES = new Set([
  'listening',
  'search engine and user cache',
  'user row contacts',
  'shutting down',
  'stopped',
  'background pass',
  'background pass failed',
  'event published',
  'event not published yet',
  // The relay's check of the event topic at each connect: the topic's numbers, no request.
  'event topic has a single replica on a single broker: fine for a local setup, not for production',
  'event topic can lose an event Kafka acknowledged',
  'event topic refuses events while any one of its brokers is down',
  "event topic's replication not checked: could not read it",
])

/**
 * Realistic traffic through the built server at LOG_LEVEL=debug, then every line it wrote is
 * searched for the people's data and the credentials it saw. None may appear; every line written
 * for a request names it by msgid.
 */
describe('what the built server logs', () => {
  const keys = createRealmKeys()
  const db = createCassandraClient(testConfig().cassandra)
  const apiBearer = signApiBearer(LOCAL_CONSUMER.key, LOCAL_CONSUMER.secret)
  // Sunbird's key of the encrypted contacts: the server decrypts with it, and logs neither it nor what it decrypts.
  const encryptionKey = 'a-deployment-encryption-key'
  const secrets: string[] = [apiBearer, encryptionKey]
  const personalData: string[] = []
  const sent: { msgid: string; status: number }[] = []
  let server: ContractServer
  let lines: LogLine[]
  let exitCode: number | null
  const people: string[] = []
  /**
   * The deletion requests of each person, read after the traffic: a request's id is its call's msgid,
   * or a fresh one when an earlier run on the same keyspace had used that msgid.
   */
  let deletionRequestIds: Map<string, string[]>
  let withAccountId: string
  let encryptedId: string

  /** A user with unmistakable personal data in Cassandra, remembered for the search. */
  async function person(overrides: Partial<SeedUser> = {}): Promise<SeedUser> {
    const tag = randomUUID().replace(/-/g, '').slice(0, 10)
    const user: SeedUser = {
      id: randomUUID(),
      firstName: `Zenobia${tag}`,
      lastName: `Quartermaine${tag}`,
      email: `zenobia.${tag}@example.org`,
      phone: `98${String(parseInt(tag.slice(0, 8), 16))
        .padStart(8, '7')
        .slice(0, 8)}`,
      username: `zq_${tag}`,
      dob: '1987-06-05',
      externalIds: [{ provider: 'state-board', idType: 'student-id', externalId: `SB-${tag}` }],
      ...overrides,
    }
    await seedUser(db, TEST_KEYSPACE, user)
    people.push(user.id)
    personalData.push(user.firstName!, user.lastName!, user.email!, user.phone!, user.username!, `SB-${tag}`)
    return user
  }

  /** A Keycloak-shaped token that, like Keycloak's, carries the person's name, email and username. */
  function tokenOf(user: { id: string; firstName?: string; lastName?: string; email?: string; username?: string }, claims: Record<string, unknown> = {}): string {
    const token = mintUserToken(keys, ISSUER, {
      sub: `f:provider-1:${user.id}`,
      name: `${user.firstName} ${user.lastName}`,
      given_name: user.firstName,
      family_name: user.lastName,
      email: user.email,
      preferred_username: user.username,
      ...claims,
    })
    secrets.push(token)
    return token
  }

  async function call(label: string, path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<void> {
    const msgid = `privacy-${sent.length + 1}-${label}`
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      ...init,
      headers: { 'content-type': 'application/json', 'x-request-id': msgid, ...init.headers },
    })
    await response.arrayBuffer()
    sent.push({ msgid, status: response.status })
  }

  beforeAll(async () => {
    server = await startContractServer({ keys, env: { LOG_LEVEL: 'debug', DELETION_SWEEP_INTERVAL_MS: '0', sunbird_encryption_key: encryptionKey } })
    const auth = { authorization: `Bearer ${apiBearer}` }
    const org = `0137${randomUUID().replace(/\D/g, '').padEnd(18, '1').slice(0, 18)}`

    // A real Keycloak account too, so the identity erasure runs for real.
    const account: KeycloakTestUser = await createKeycloakUser()
    personalData.push(account.username, account.email)
    secrets.push(account.password)
    const withAccount = await person({ id: account.id, rootOrgId: org })
    const plain = await person()
    // Stored as a deployment with encryption on stores it: its deletion decrypts the contacts.
    await encryptUserAsSunbird(db, TEST_KEYSPACE, plain.id, encryptionKey)
    withAccountId = withAccount.id
    encryptedId = plain.id
    const parent = await person()
    const child = await person({ managedBy: parent.id })
    const restricted = await person({ roles: [{ role: 'CONTENT_CREATOR' }] })
    const admin = { id: randomUUID(), firstName: 'Adminia', lastName: 'Rootwell', email: 'adminia.rootwell@example.org', username: 'adminia_r' }
    personalData.push('Adminia', 'Rootwell', 'adminia.rootwell@example.org')

    const body = (userId: string, extra: Record<string, unknown> = {}) => JSON.stringify({ request: { userId, ...extra } })
    await call('self', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(withAccount) }, body: body(withAccount.id) })
    // Extra keys carrying personal data are ignored by the service, and must not be logged either.
    await call('self-extra', '/v1/user/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(plain) }, body: body(plain.id, { email: plain.email, name: plain.firstName }) })
    await call('deleted-token', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(plain) }, body: body(plain.id) })
    const adminToken = tokenOf(admin, { sub: admin.id, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: org }] }] })
    await call('already', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': adminToken }, body: body(withAccount.id) })
    await call('forbidden', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(parent) }, body: body(restricted.id) })
    await call('restricted', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(restricted) }, body: body(restricted.id) })
    await call('managed', '/api/user/v1/delete', {
      headers: { ...auth, 'x-authenticated-user-token': tokenOf(parent), 'x-authenticated-for': tokenOf(child, { parentId: parent.id }) },
      body: body(child.id),
    })
    // Personal data where an id belongs: refused, and the value is not echoed into the log.
    await call('email-as-id', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(parent) }, body: body(parent.email!) })
    await call('phone-as-id', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(parent) }, body: JSON.stringify({ request: { userId: Number(parent.phone) } }) })
    await call('bad-json', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(parent) }, body: `{"request":{"userId":"${parent.email}"` })
    await call('too-large', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': tokenOf(parent) }, body: body(parent.id, { pad: `${parent.username} `.repeat(8000) }) })
    await call('forged', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': `${tokenOf(parent).slice(0, -6)}AAAAAA` }, body: body(parent.id) })
    await call('no-bearer', '/api/user/v1/delete', { headers: { 'x-authenticated-user-token': tokenOf(parent) }, body: body(parent.id) })
    await call('unknown-path', `/api/user/v1/delete/${encodeURIComponent(parent.email!)}?phone=${parent.phone}`, { headers: auth, body: body(parent.id) })
    await call('wrong-method', `/api/user/v1/delete?username=${parent.username}`, { method: 'GET', headers: auth, body: undefined })
    // The lifecycle: an export (the person's data in the answer, never in the log), a soft deletion
    // with an Idempotency-Key and its replay, a dry run, a cancel, then a hard deletion.
    const lifecycle = await person({ rootOrgId: org })
    const lifecycleToken = tokenOf(lifecycle)
    const keyed = { ...auth, 'x-authenticated-user-token': lifecycleToken, 'idempotency-key': `key-${lifecycle.email}` }
    await call('export', '/api/user/v1/export', { headers: { ...auth, 'x-authenticated-user-token': lifecycleToken }, body: body(lifecycle.id) })
    await call('dry-run', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': lifecycleToken }, body: body(lifecycle.id, { mode: 'hard', dryRun: true }) })
    await call('soft', '/api/user/v1/delete', { headers: keyed, body: body(lifecycle.id, { mode: 'soft' }) })
    await call('soft-replayed', '/api/user/v1/delete', { headers: keyed, body: body(lifecycle.id, { mode: 'soft' }) })
    await call('export-admin', '/api/user/v1/export', { headers: { ...auth, 'x-authenticated-user-token': adminToken }, body: body(lifecycle.id) })
    await call('cancel', '/api/user/v1/delete/cancel', { headers: { ...auth, 'x-authenticated-user-token': lifecycleToken }, body: body(lifecycle.id) })
    await call('hard', '/api/user/v1/delete', { headers: { ...auth, 'x-authenticated-user-token': adminToken }, body: body(lifecycle.id, { mode: 'hard' }) })

    exitCode = await server.stop('SIGTERM')
    deletionRequestIds = new Map(await Promise.all(people.map(async (id) => [id, (await requestsOf(db, id)).map((request) => request.id)] as const)))
    lines = server.logs.map((line) => {
      try {
        return JSON.parse(line) as LogLine
      } catch {
        throw new Error(`not a JSON log line: ${line}`)
      }
    })
  })
  afterAll(async () => {
    if (process.env.DUMP_LOGS) (await import('node:fs')).writeFileSync(process.env.DUMP_LOGS, server.logs.join('\n'))
    await server?.stop()
    await db.shutdown()
  })

  it('when the traffic ran, then it covered successes and refusals alike', () => {
    const statuses = new Set(sent.map((s) => s.status))

    expect([...statuses].sort()).toEqual([200, 400, 401, 403, 404, 405, 413])
    expect(exitCode).toBe(0)
  })

  it('when every line is searched, then no name, email, phone, username or external id of the people appears', () => {
    const text = server.logs.join('\n').toLowerCase()

    const leaked = personalData.filter((value) => text.includes(value.toLowerCase()))

    expect(personalData.length).toBeGreaterThan(30)
    expect(leaked).toEqual([])
  })

  it('when every line is searched, then no credential appears, whole or as its signature', () => {
    const text = server.logs.join('\n')

    // A JWT's payload is base64 of its claims: finding the signature part alone would also be a leak.
    const leaked = secrets.filter((secret) => text.includes(secret) || text.includes(secret.split('.').pop() as string))

    expect(leaked).toEqual([])
  })

  it('when a deletion read contacts the encryption key does not decrypt (stored plain), then one warning names its request with counts only; a deletion whose contacts all decrypt has none', () => {
    const warnings = lines.filter((line) => line.msg === 'user row contacts not decrypted')
    const ofDeletionOf = (userId: string) => warnings.filter((line) => deletionRequestIds.get(userId)?.includes(String(line.requestId)))

    // The person seeded plain: their six distinct contacts, none of which decrypts.
    expect(ofDeletionOf(withAccountId)).toEqual([expect.objectContaining({ level: 40, notDecrypted: 6, contacts: 6 })])
    expect(Object.keys(ofDeletionOf(withAccountId)[0] ?? {}).sort()).toEqual(['contacts', 'level', 'msg', 'notDecrypted', 'requestId', 'service', 'time'])
    // The person stored encrypted with the key: every contact decrypts.
    expect(ofDeletionOf(encryptedId)).toEqual([])
  })

  it('when a dry run or an export read contacts the encryption key does not decrypt (stored plain), then each tells it once, for its call, with counts only, as a deletion does', () => {
    const ofCall = (label: string) => {
      const msgid = sent.find((s) => s.msgid.endsWith(`-${label}`))?.msgid
      return lines.filter((line) => line.msg === 'user row contacts not decrypted' && line.requestId === msgid)
    }

    for (const label of ['dry-run', 'export']) {
      expect(ofCall(label), label).toEqual([expect.objectContaining({ level: 40, notDecrypted: expect.any(Number), contacts: expect.any(Number) })])
      expect(Object.keys(ofCall(label)[0] ?? {}).sort()).toEqual(['contacts', 'level', 'msg', 'notDecrypted', 'requestId', 'service', 'time'])
      expect(ofCall(label)[0]?.notDecrypted).toBeGreaterThan(0)
    }
  })

  it('when a request was served, then its access line carries its msgid, route, status, outcome code and latency', () => {
    for (const { msgid, status } of sent) {
      const access = lines.filter((line) => line.msg === 'request' && line.msgid === msgid)
      expect(access, msgid).toHaveLength(1)
      expect(access[0]).toMatchObject({ status, method: expect.any(String), route: expect.any(String), latencyMs: expect.any(Number) })
      expect(access[0]?.err, msgid).toMatch(status === 200 ? /^none$/ : /^(UOS_|FORBIDDEN$)/)
      // Exactly these fields: nothing another line of the request logged rides along.
      expect(Object.keys(access[0] ?? {}).sort()).toEqual(['err', 'latencyMs', 'level', 'method', 'msg', 'msgid', 'route', 'service', 'status', 'time'])
    }
  })

  it('when a line is not about the process itself, then it names the request it was written for', () => {
    const known = new Set([...sent.map((s) => s.msgid), ...[...deletionRequestIds.values()].flat()])

    // A deletion's own lines (a step owed, contacts not decrypted) name its deletion request, whose id is the delete call's msgid (or a fresh one, that msgid used by an earlier run).
    const orphans = lines.filter((line) => !PROCESS_MESSAGES.has(line.msg ?? '') && !known.has(line.msgid ?? '') && !known.has(String(line.requestId ?? '')))

    expect(orphans).toEqual([])
    // Refusals and the identity step are logged within their request too.
    expect(lines.filter((line) => line.msg === 'request refused').length).toBeGreaterThanOrEqual(8)
  })
})
