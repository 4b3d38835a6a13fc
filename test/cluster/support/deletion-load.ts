import type { Client } from 'cassandra-driver'
import type { SeedUser } from '../../../scripts/lib/seed-users.js'
import type { ContractServer } from '../../support/contract-server.js'
import { TEST_KEYSPACE } from '../../support/test-env.js'
import type { UserTokenClaims } from '../../support/user-tokens.js'

/** One deletion sent during a load run: which user, through which instance, what came back and when. */
export interface SentDeletion {
  user: SeedUser
  requestId: string
  instance: number
  status: number
  err: string | null
  ms: number
}

/** `POST /api/user/v1/delete` as the user themselves, through `instance`, with the given X-Request-Id and any extra request fields. */
export function sendSelfDeletion(instance: ContractServer, userId: string, requestId: string, request: Record<string, unknown> = {}): Promise<Response> {
  return sendDeletion(instance, userId, requestId, { sub: userId }, request)
}

/** `POST /api/user/v1/delete` of `userId` by the caller of the user token with `caller`'s claims. */
export function sendDeletion(instance: ContractServer, userId: string, requestId: string, caller: UserTokenClaims, request: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${instance.url}/api/user/v1/delete`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${instance.apiBearer}`,
      'x-authenticated-user-token': instance.userToken(caller),
      'x-request-id': requestId,
    },
    body: JSON.stringify({ request: { userId, ...request } }),
  })
}

/** Sends `POST /api/user/v1/delete` for each user as the user, through the instances in turn, `inFlight` at a time; `onAnswered(n)` after each answer. */
export async function deleteAll(
  instances: ContractServer[],
  users: SeedUser[],
  options: { inFlight: number; requestIdPrefix: string; onAnswered?: (answered: number) => void | Promise<void> },
): Promise<SentDeletion[]> {
  const sent: SentDeletion[] = []
  let next = 0
  let answered = 0
  const worker = async () => {
    while (next < users.length) {
      const index = next++
      const user = users[index] as SeedUser
      const instanceIndex = index % instances.length
      const instance = instances[instanceIndex] as ContractServer
      const requestId = `${options.requestIdPrefix}-${index}-${user.id}`
      const started = performance.now()
      const response = await sendSelfDeletion(instance, user.id, requestId)
      const text = await response.text()
      let err: string | null = null
      try {
        err = (JSON.parse(text) as { params?: { err?: string | null } }).params?.err ?? null
      } catch {
        err = text.slice(0, 80)
      }
      sent.push({ user, requestId, instance: instanceIndex, status: response.status, err, ms: performance.now() - started })
      await options.onAnswered?.(++answered)
    }
  }
  await Promise.all(Array.from({ length: options.inFlight }, worker))
  return sent
}

export type UserStanding = { kind: 'deleted' } | { kind: 'untouched' } | { kind: 'half'; why: string }

/**
 * Where a seeded user stands after a run, from every table a deletion writes to: erased the Sunbird
 * way throughout (row status 2 and scrubbed, no lookups, no external identities, memberships left,
 * a completed request), untouched throughout (row, lookups, identities and memberships as seeded,
 * no deletion state), or anything in between (`half`, with what gave it away).
 */
export async function standingOf(db: Client, user: SeedUser): Promise<UserStanding> {
  const ks = TEST_KEYSPACE
  const q = (cql: string) => db.execute(cql, [user.id], { prepare: true })
  const [row, lookups, identities, roles, memberships, state, requests] = await Promise.all([
    q(`SELECT status, isdeleted, email, phone, firstname FROM ${ks}.user WHERE id = ?`),
    q(`SELECT type FROM ${ks}.user_lookup WHERE userid = ?`),
    q(`SELECT externalid FROM ${ks}.usr_external_identity WHERE userid = ?`),
    q(`SELECT role FROM ${ks}.user_roles WHERE userid = ?`),
    q(`SELECT isdeleted FROM ${ks}.user_organisation WHERE userid = ?`),
    q(`SELECT mode FROM ${ks}.user_deletion_state WHERE userid = ?`),
    q(`SELECT id, state FROM ${ks}.user_deletion_request WHERE userid = ?`),
  ])
  const requestIds = requests.rows.map((r) => r.get('id') as string)
  const open = await Promise.all(requestIds.map((id) => db.execute(`SELECT id FROM ${ks}.user_deletion_request_open WHERE id = ?`, [id], { prepare: true })))
  const user1 = row.first()
  const seededLookups = 3 + (user.externalIds?.length ?? 0)
  const seededOrgs = user.organisations?.length ?? (user.rootOrgId ? 1 : 0)
  const facts = {
    rowDeleted: user1?.get('status') === 2 && user1?.get('isdeleted') === true,
    rowScrubbed: !user1?.get('email') && !user1?.get('phone') && !user1?.get('firstname'),
    lookups: lookups.rowLength,
    identities: identities.rowLength,
    roles: roles.rowLength,
    orgsLeft: memberships.rows.filter((m) => m.get('isdeleted') === true).length,
    orgs: memberships.rowLength,
    state: (state.first()?.get('mode') as string | undefined) ?? null,
    requests: requests.rows.map((r) => r.get('state') as string),
    open: open.filter((r) => r.rowLength > 0).length,
  }
  const why = JSON.stringify(facts)
  const completed = facts.requests.includes('completed')
  if (facts.rowDeleted && facts.rowScrubbed && facts.lookups === 0 && facts.identities === 0 && facts.orgsLeft === seededOrgs && completed && facts.open === 0) return { kind: 'deleted' }
  const rowIntact = user1?.get('status') === 1 && user1?.get('isdeleted') === false && user1?.get('email') === (user.email ?? `${user.id.slice(0, 8)}@example.org`)
  if (
    rowIntact &&
    facts.lookups === seededLookups &&
    facts.identities === (user.externalIds?.length ?? 0) &&
    facts.orgsLeft === 0 &&
    facts.orgs === seededOrgs &&
    facts.roles > 0 &&
    facts.state === null &&
    facts.open === 0 &&
    !completed
  )
    return { kind: 'untouched' }
  return { kind: 'half', why }
}

/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0
}
