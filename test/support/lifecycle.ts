import type { Client } from 'cassandra-driver'
import type { SeedUser } from '../../scripts/lib/seed-users.js'
import type { Envelope } from '../../src/http/envelope.js'
import { TOMBSTONE_COLUMNS } from '../../src/store/cassandra-user-store.js'
import type { Harness } from './harness.js'
import { createKeycloakUser, type KeycloakTestUser } from './keycloak.js'
import { TEST_KEYSPACE } from './test-env.js'

/** A person with a real Keycloak account and a Sunbird user row under the same id. */
export async function personInBoth(h: Harness, options: Parameters<typeof createKeycloakUser>[0] & Partial<Omit<SeedUser, 'id'>> = {}): Promise<KeycloakTestUser & { seed: SeedUser }> {
  const account = await createKeycloakUser(options)
  const seed = await h.seed({ ...options, id: account.id, username: account.username, email: account.email })
  return { ...account, seed }
}

/** The routes of the lifecycle, in-process, with the local gateway bearer. */
export const lifecycle = (h: Harness) => ({
  remove: (userId: string, fields: Record<string, unknown> = {}, headers: Record<string, string> = {}) => h.deleteRequest({ request: { userId, ...fields } }, headers),
  cancel: (userId: string, headers: Record<string, string> = {}) => h.deleteRequest({ request: { userId } }, headers, '/api/user/v1/delete/cancel'),
  exportOf: (userId: string, headers: Record<string, string> = {}) => h.deleteRequest({ request: { userId } }, headers, '/api/user/v1/export'),
  status: (userId: string, headers: Record<string, string> = {}) => h.deleteRequest({ request: { userId } }, headers, '/api/user/v1/delete/status'),
  asUser: (userId: string, extra: Record<string, string> = {}) => ({ 'x-authenticated-user-token': h.userToken({ sub: userId }), ...extra }),
})

export async function envelopeOf(response: Response): Promise<Envelope & { status: number }> {
  const text = await response.text()
  return { ...(JSON.parse(text) as Envelope), status: response.status }
}

/** The user's row in user_deletion_state, straight from Cassandra. */
export async function deletionStateOf(db: Client, userId: string): Promise<{ mode: string; requestid: string } | undefined> {
  const row = (await db.execute(`SELECT mode, requestid FROM ${TEST_KEYSPACE}.user_deletion_state WHERE userid = ?`, [userId], { prepare: true })).first()
  return row ? { mode: row.get('mode') as string, requestid: row.get('requestid') as string } : undefined
}

/** The columns of a user row that are not null, apart from the tombstone's own. */
export async function columnsBeyondTombstone(db: Client, userId: string): Promise<string[]> {
  const row = (await db.execute(`SELECT * FROM ${TEST_KEYSPACE}.user WHERE id = ?`, [userId], { prepare: true })).first()
  if (!row) return ['(no row)']
  return row.keys().filter((column) => !TOMBSTONE_COLUMNS.has(column) && row.get(column) !== null)
}

/** Rows in user_organisation of the user, left ones included. */
export async function membershipCount(db: Client, userId: string): Promise<number> {
  return (await db.execute(`SELECT organisationid FROM ${TEST_KEYSPACE}.user_organisation WHERE userid = ?`, [userId], { prepare: true })).rowLength
}

/** Whether the outbox holds an event for the request. */
export async function hasOutboxEvent(db: Client, requestId: string): Promise<boolean> {
  return (await db.execute(`SELECT requestid FROM ${TEST_KEYSPACE}.user_deletion_event_outbox WHERE requestid = ?`, [requestId], { prepare: true })).rowLength > 0
}
