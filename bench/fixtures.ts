import { randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { type SeedUser, seedUser } from '../scripts/lib/seed-users.js'
import type { Config } from '../src/config/config.js'
import { migrate } from '../src/store/migrations.js'
import { mintUserToken, type RealmKeys } from '../test/support/user-tokens.js'

/** The bench keyspace at the current schema, and empty: every run starts from the same state. */
export async function prepareKeyspace(cassandra: Config['cassandra'], db: Client): Promise<void> {
  await migrate(cassandra)
  const tables = await db.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [cassandra.keyspace], { prepare: true })
  for (const row of tables.rows) {
    const table = row.get('table_name') as string
    if (table !== 'schema_version') await db.execute(`TRUNCATE ${cassandra.keyspace}.${table}`)
  }
}

/** Seeds `count` PUBLIC users (user row, three lookups, one role; `fields` adds e.g. an organisation), `concurrency` users at a time. */
export async function seedUsers(db: Client, keyspace: string, count: number, concurrency = 32, fields: Omit<SeedUser, 'id'> = {}): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID())
  let next = 0
  const worker = async () => {
    for (let i = next++; i < ids.length; i = next++) await seedUser(db, keyspace, { ...fields, id: ids[i] as string })
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return ids
}

export interface UserWithToken {
  userId: string
  token: string
}

/** One user token per user (sub = the user, so each request is a self-delete), valid for the whole run. */
export function tokensFor(keys: RealmKeys, issuer: string, userIds: readonly string[]): UserWithToken[] {
  return userIds.map((userId) => ({ userId, token: mintUserToken(keys, issuer, { sub: userId }, { ttlSeconds: 3 * 3600 }) }))
}
