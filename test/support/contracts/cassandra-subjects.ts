import { type Client, errors, type QueryOptions, types } from 'cassandra-driver'
import { seedUser } from '../../../scripts/lib/seed-users.js'
import type { AuditRecord, PersonalTable } from '../../../src/deletion/ports.js'
import { CassandraAuditTrail } from '../../../src/store/cassandra-audit-trail.js'
import { CassandraBatchJobs } from '../../../src/store/cassandra-batch-jobs.js'
import { CassandraDeletionRequests } from '../../../src/store/cassandra-deletion-requests.js'
import { CassandraEventOutbox } from '../../../src/store/cassandra-event-outbox.js'
import { CassandraIdempotencyKeys } from '../../../src/store/cassandra-idempotency-keys.js'
import { CassandraPersonalTables } from '../../../src/store/cassandra-personal-tables.js'
import { CassandraRequesterDeletionCounts } from '../../../src/store/cassandra-requester-deletion-counts.js'
import { CassandraUserDeletionStates } from '../../../src/store/cassandra-user-deletion-states.js'
import { CassandraUserStore } from '../../../src/store/cassandra-user-store.js'
import { formatSunbirdTimestamp } from '../../../src/shared/sunbird-timestamp.js'
import { waitUntil } from '../wait-until.js'
import { undoTampering } from '../audit-tampering.js'
import { TEST_KEYSPACE } from '../test-env.js'
import type { AuditTrailSubject } from './audit-trail.contract.js'
import type { BatchJobStoreSubject } from './batch-job-store.contract.js'
import type { DeletionRequestStoreSubject } from './deletion-request-store.contract.js'
import type { EventOutboxSubject } from './event-outbox.contract.js'
import type { IdempotencyKeysSubject } from './idempotency-keys.contract.js'
import type { PersonalDataTablesSubject } from './personal-data-tables.contract.js'
import type { RequesterDeletionCountsSubject } from './requester-deletion-counts.contract.js'
import type { UserDeletionStatesSubject } from './user-deletion-states.contract.js'
import type { UserStoreSubject } from './user-store.contract.js'
import { deferred } from '../wait-until.js'

const ks = TEST_KEYSPACE
const PREPARED = { prepare: true } as const

/** Columns of sunbird.user that hold no personal data: ids, flags, bookkeeping. Every other column is looked at. */
const NOT_PERSONAL = new Set([
  'id',
  'userid',
  'status',
  'isdeleted',
  'flagsvalue',
  'rootorgid',
  'channel',
  'managedby',
  'roles',
  'emailverified',
  'phoneverified',
  'createddate',
  'updateddate',
  'createdby',
  'updatedby',
])
/** What a scrubbed column may still hold: nothing, or Sunbird's empty location list. */
const BLANK = new Set(['', '[]'])

/** The Cassandra adapter over the tests' keyspace; users are seeded as Sunbird writes them, and removed after each case. */
export function cassandraUserStore(db: Client): UserStoreSubject {
  const seeded: string[] = []
  const execute = (cql: string, params: unknown[]) => db.execute(cql, params, PREPARED)
  return {
    store: new CassandraUserStore(db, ks),
    async seed(user) {
      seeded.push(user.id)
      await seedUser(db, ks, {
        id: user.id,
        ...(user.status !== undefined && { status: user.status }),
        ...(user.isDeleted !== undefined && { isDeleted: user.isDeleted }),
        ...(user.rootOrgId && { rootOrgId: user.rootOrgId }),
        ...(user.managedBy && { managedBy: user.managedBy }),
        ...(user.username && { username: user.username }),
        ...(user.roles && { roles: user.roles }),
        ...(user.organisations && { organisations: user.organisations }),
        ...(user.externalIds && { externalIds: user.externalIds }),
      })
    },
    async update(userId, change) {
      const columns = { status: change.status, isdeleted: change.isDeleted, rootorgid: change.rootOrgId, managedby: change.managedBy }
      const set = Object.entries(columns).filter(([, value]) => value !== undefined)
      await execute(`UPDATE ${ks}.user SET ${set.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ?`, [...set.map(([, value]) => value), userId])
    },
    async removeRow(userId) {
      await execute(`DELETE FROM ${ks}.user WHERE id = ?`, [userId])
    },
    // Conditioned IF EXISTS, as the fake refuses a row that is gone: a plain UPDATE would create one.
    async restamp(userId, change) {
      const result = await execute(`UPDATE ${ks}.user SET updatedby = ?, updateddate = ? WHERE id = ? IF EXISTS`, [change.updatedBy, change.at && formatSunbirdTimestamp(change.at), userId])
      if (!result.wasApplied()) throw new Error(`no user ${userId}`)
    },
    async editProfile(userId, values) {
      const set = Object.entries(values)
      const result = await execute(`UPDATE ${ks}.user SET ${set.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ? IF EXISTS`, [...set.map(([, value]) => value), userId])
      if (!result.wasApplied()) throw new Error(`no user ${userId}`)
    },
    async lookupCount(userId) {
      return (await execute(`SELECT type FROM ${ks}.user_lookup WHERE userid = ?`, [userId])).rowLength
    },
    async externalIdentityCount(userId) {
      return (await execute(`SELECT provider FROM ${ks}.usr_external_identity WHERE userid = ?`, [userId])).rowLength
    },
    async personalValues(userId) {
      const row = (await execute(`SELECT * FROM ${ks}.user WHERE id = ?`, [userId])).first()
      if (!row) return []
      return row
        .keys()
        .filter((column) => !NOT_PERSONAL.has(column))
        .map((column) => row.get(column))
        .filter((value) => value !== null && !BLANK.has(String(value)))
        .map((value) => (typeof value === 'string' ? value : JSON.stringify(value)))
    },
    async dispose() {
      for (const userId of seeded) {
        const [lookups, identities] = await Promise.all([
          execute(`SELECT type, value FROM ${ks}.user_lookup WHERE userid = ?`, [userId]),
          execute(`SELECT provider, idtype, externalid FROM ${ks}.usr_external_identity WHERE userid = ?`, [userId]),
        ])
        await Promise.all([
          execute(`DELETE FROM ${ks}.user WHERE id = ?`, [userId]),
          execute(`DELETE FROM ${ks}.user_roles WHERE userid = ?`, [userId]),
          execute(`DELETE FROM ${ks}.user_organisation WHERE userid = ?`, [userId]),
          ...lookups.rows.map((row) => execute(`DELETE FROM ${ks}.user_lookup WHERE type = ? AND value = ?`, [row.get('type'), row.get('value')])),
          ...identities.rows.map((row) =>
            execute(`DELETE FROM ${ks}.usr_external_identity WHERE provider = ? AND idtype = ? AND externalid = ?`, [row.get('provider'), row.get('idtype'), row.get('externalid')]),
          ),
        ])
      }
    },
  }
}

/**
 * The client, with each write `held` picks held back after the adapter stamped and sent it, until
 * `land()`: a stalled connection.
 */
function holdingWrites(db: Client, held: (query: string, options?: QueryOptions) => boolean): { client: Client; reached: Promise<void>; land: () => void } {
  const reached = deferred()
  const landed = deferred()
  const client = new Proxy(db, {
    get(target, property) {
      if (property === 'execute') {
        return async (query: string, params: unknown[], options?: QueryOptions) => {
          if (held(query, options)) {
            reached.resolve()
            await landed.promise
          }
          return target.execute(query, params, options)
        }
      }
      if (property === 'batch') {
        return async (queries: { query: string; params: unknown[] }[], options?: QueryOptions) => {
          if (queries.some(({ query }) => held(query, options))) {
            reached.resolve()
            await landed.promise
          }
          return target.batch(queries, options)
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { client, reached: reached.promise, land: () => landed.resolve() }
}

/** A fenced create's row: the request insert sent with a write time of its own. */
const isFencedCreate = (query: string, options?: QueryOptions) => query.startsWith(`INSERT INTO ${ks}.user_deletion_request (`) && options?.timestamp !== undefined
/** An unlist: the open entry's delete (the held store is asked only for unlists under a lease). */
const isUnlist = (query: string) => query.startsWith(`DELETE FROM ${ks}.user_deletion_request_open `)

/** A relist under a lease: the open entry's insert sent with a write time of its own. */
const isFencedRelist = (query: string, options?: QueryOptions) => query.startsWith(`INSERT INTO ${ks}.user_deletion_request_open `) && options?.timestamp !== undefined

/** The client, with the next create's open entry written and its answer then lost (a driver timeout). */
function losingNextEntryAnswer(db: Client): Client {
  let lost = false
  return new Proxy(db, {
    get(target, property) {
      if (property === 'execute') {
        return async (query: string, params: unknown[], options?: QueryOptions) => {
          const result = await target.execute(query, params, options)
          if (!lost && query.startsWith(`INSERT INTO ${ks}.user_deletion_request_open (id, userid, createdat, request)`)) {
            lost = true
            throw new errors.OperationTimedOutError('answer lost (test)')
          }
          return result
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** The client, with each fenced create's row insert applied and its answer then lost (a driver timeout). */
function losingFencedCreateAnswers(db: Client): Client {
  return new Proxy(db, {
    get(target, property) {
      if (property === 'execute') {
        return async (query: string, params: unknown[], options?: QueryOptions) => {
          const result = await target.execute(query, params, options)
          if (isFencedCreate(query, options)) throw new errors.OperationTimedOutError('answer lost (test)')
          return result
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** The Cassandra adapter; the case's requests are removed afterwards, so no sweeper meets them. */
export function cassandraDeletionRequests(db: Client): DeletionRequestStoreSubject {
  const used = new Set<string>()
  return {
    store: new CassandraDeletionRequests(db, ks),
    withFencedCreatesHeld() {
      const { client, reached, land } = holdingWrites(db, isFencedCreate)
      return { store: new CassandraDeletionRequests(client, ks), reached, land }
    },
    withFencedUnlistsHeld() {
      const { client, reached, land } = holdingWrites(db, isUnlist)
      return { store: new CassandraDeletionRequests(client, ks), reached, land }
    },
    withFencedRelistsHeld() {
      const { client, reached, land } = holdingWrites(db, isFencedRelist)
      return { store: new CassandraDeletionRequests(client, ks), reached, land }
    },
    withFencedCreateAnswersLost: () => new CassandraDeletionRequests(losingFencedCreateAnswers(db), ks),
    loseRow: async (id) => void (await db.execute(`DELETE FROM ${ks}.user_deletion_request WHERE id = ?`, [id], PREPARED)),
    withEntryAnswerLost() {
      const store = new CassandraDeletionRequests(losingNextEntryAnswer(db), ks)
      return { store, settled: () => store.finishSettling() }
    },
    uses: (requestId) => void used.add(requestId),
    async dispose() {
      for (const id of used) {
        await db.execute(`DELETE FROM ${ks}.user_deletion_request WHERE id = ?`, [id], PREPARED)
        await db.execute(`DELETE FROM ${ks}.user_deletion_request_open WHERE id = ?`, [id], PREPARED)
      }
    },
  }
}

/** The Cassandra adapter with the relay's own calls; the case's events are removed afterwards, so no relay publishes them. */
export function cassandraEventOutbox(db: Client): EventOutboxSubject {
  const outbox = new CassandraEventOutbox(db, ks)
  const used = new Set<string>()
  return {
    outbox,
    async stored(requestId) {
      const row = (await db.execute(`SELECT mid, payload FROM ${ks}.user_deletion_event_outbox WHERE requestid = ?`, [requestId], PREPARED)).first()
      if (!row) return undefined
      const payload = row.get('payload') as string | null
      return { mid: row.get('mid') as string, event: payload === null ? undefined : (JSON.parse(payload) as Record<string, unknown>) }
    },
    markPublished: (requestId, at) => outbox.markPublished(requestId, at),
    uses: (requestId) => void used.add(requestId),
    async dispose() {
      for (const id of used) {
        await db.execute(`DELETE FROM ${ks}.user_deletion_event_outbox WHERE requestid = ?`, [id], PREPARED)
        await db.execute(`DELETE FROM ${ks}.user_deletion_event_outbox_pending WHERE requestid = ?`, [id], PREPARED)
      }
    },
  }
}

/**
 * The Cassandra adapter, on a chain of its own (each adapter instance starts one), verified alone:
 * other tests write chains to the same keyspace, and tamper with theirs. Records stay
 * (the chain is append-only); tampering writes straight to user_deletion_audit and is undone by each
 * case (undoTampering). Verification reads 2 rows a page, so every case's records and anchors span
 * pages of the real driver.
 */
export function cassandraAuditTrail(db: Client): AuditTrailSubject {
  const table = `${ks}.user_deletion_audit`
  const trail = new CassandraAuditTrail(db, ks, { fetchSize: 2 })
  async function rowsOf(requestId: string) {
    const rows = (await db.execute(`SELECT seq, at, record, prevhash, hash FROM ${table} WHERE chain = ?`, [trail.currentChain], PREPARED)).rows
    return rows.filter((row) => (JSON.parse(row.get('record') as string) as AuditRecord).requestId === requestId)
  }
  async function rowOf(requestId: string, index: number) {
    const row = (await rowsOf(requestId))[index]
    if (!row) throw new Error(`no record ${index} of ${requestId}`)
    return row
  }
  return {
    trail,
    verify: () => trail.verify({ chains: [trail.currentChain] }),
    recordsOf: async (requestId) => (await rowsOf(requestId)).map((row) => JSON.parse(row.get('record') as string) as AuditRecord),
    async rewrite(requestId, index, change) {
      const row = await rowOf(requestId, index)
      const seq = row.get('seq')
      const original = row.get('record') as string
      const update = `UPDATE ${table} SET record = ? WHERE chain = ? AND seq = ?`
      await db.execute(update, [change(original), trail.currentChain, seq], PREPARED)
      return { seq: Number(seq), undo: () => undoTampering(db, update, [original, trail.currentChain, seq]) }
    },
    async remove(requestId, index) {
      const row = await rowOf(requestId, index)
      const seq = row.get('seq')
      const chain = trail.currentChain
      await db.execute(`DELETE FROM ${table} WHERE chain = ? AND seq = ?`, [chain, seq], PREPARED)
      const restore = `INSERT INTO ${table} (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?)`
      const values = [chain, seq, row.get('at'), row.get('record'), row.get('prevhash'), row.get('hash')]
      return { seq: Number(seq), undo: () => undoTampering(db, restore, values) }
    },
  }
}

/** The Cassandra adapter; the case's users are removed from user_deletion_state afterwards. */
export function cassandraUserDeletionStates(db: Client): UserDeletionStatesSubject {
  const used = new Set<string>()
  return {
    states: new CassandraUserDeletionStates(db, ks),
    uses: (userId) => void used.add(userId),
    async seedUnreadable(userId, row) {
      used.add(userId)
      await db.execute(`INSERT INTO ${ks}.user_deletion_state (userid, mode, requestid, updatedat) VALUES (?, ?, ?, ?)`, [userId, row.mode, row.requestId, new Date()], PREPARED)
    },
    async dispose() {
      for (const userId of used) await db.execute(`DELETE FROM ${ks}.user_deletion_state WHERE userid = ?`, [userId], PREPARED)
    },
  }
}

/** The Cassandra adapter; expiry is Cassandra's own TTL, awaited by reading the row until it is gone. */
export function cassandraIdempotencyKeys(db: Client): IdempotencyKeysSubject {
  return {
    keys: new CassandraIdempotencyKeys(db, ks),
    async untilExpired(id) {
      await waitUntil(
        'the key to expire',
        async () => (await db.execute(`SELECT state FROM ${ks}.api_idempotency_key WHERE owner = ? AND keyhash = ?`, [id.owner, id.keyHash], PREPARED)).rowLength === 0,
        { timeoutMs: 10_000, intervalMs: 200 },
      )
    },
  }
}

/** The primary key of each side table (migration 7), to remove exactly the rows a case wrote. */
const SIDE_TABLE_KEYS: Readonly<Record<PersonalTable, readonly string[]>> = {
  user_declarations: ['userid', 'orgid', 'persona'],
  user_consent: ['user_id', 'consumer_id', 'object_id'],
  user_notes: ['id'],
  shadow_user: ['channel', 'userextid'],
  user_feed: ['id'],
  user_cert: ['id'],
  address: ['id'],
}

/** A table of the tests' keyspace standing for a deployment's own user-keyed table (ERASURE_EXTRA_TARGETS). */
const EXTRA_TABLE = 'contract_extra_target'

/**
 * The Cassandra adapter over the tests' keyspace: rows are written as JSON (unset columns null, as
 * Sunbird's writers leave them) and each written row is removed by its primary key after the case.
 */
export function cassandraPersonalDataTables(db: Client): PersonalDataTablesSubject {
  const execute = (cql: string, params: unknown[]) => db.execute(cql, params, PREPARED)
  const cleanups: (() => Promise<unknown>)[] = []
  return {
    // Small pages, so a few rows take several (the driver's own page is 5,000 rows).
    tables: new CassandraPersonalTables(db, ks, { pageRows: 20 }),
    pageRows: 20,
    async seedContacts(userId, contacts) {
      cleanups.push(() => execute(`DELETE FROM ${ks}.user WHERE id = ?`, [userId]))
      await execute(`INSERT INTO ${ks}.user JSON ?`, [JSON.stringify({ id: userId, userid: userId, ...contacts })])
    },
    async seedCode(table, value, kind) {
      if (table === 'otp') {
        cleanups.push(() => execute(`DELETE FROM ${ks}.otp WHERE type = ? AND key = ?`, [kind, value]))
        await execute(`INSERT INTO ${ks}.otp (type, key, otp, attemptedcount, createdon) VALUES (?, ?, ?, ?, ?)`, [kind, value, '123456', 0, new Date()])
      } else {
        cleanups.push(() => execute(`DELETE FROM ${ks}.rate_limit WHERE key = ? AND unit = ?`, [value, kind]))
        await execute(`INSERT INTO ${ks}.rate_limit (key, unit, rate, ttl) VALUES (?, ?, ?, ?)`, [value, kind, 1, 3600])
      }
    },
    async seedRow(table, row) {
      const key = SIDE_TABLE_KEYS[table]
      cleanups.push(() =>
        execute(
          `DELETE FROM ${ks}.${table} WHERE ${key.map((column) => `${column} = ?`).join(' AND ')}`,
          key.map((column) => row[column]),
        ),
      )
      await execute(`INSERT INTO ${ks}.${table} JSON ?`, [JSON.stringify(row)])
    },
    async extraTable() {
      await db.execute(`CREATE TABLE IF NOT EXISTS ${ks}.${EXTRA_TABLE} (id text PRIMARY KEY, user_id text, note text)`)
      return { keyspace: ks, table: EXTRA_TABLE }
    },
    async seedExtra(target, row) {
      cleanups.push(() => execute(`DELETE FROM ${target.keyspace}.${target.table} WHERE id = ?`, [row.id]))
      await execute(`INSERT INTO ${target.keyspace}.${target.table} (id, user_id, note) VALUES (?, ?, ?)`, [row.id, row.user_id, row.note])
    },
    async extraRows(target, userId) {
      const rows = (await execute(`SELECT id, user_id, note FROM ${target.keyspace}.${target.table} WHERE user_id = ? ALLOW FILTERING`, [userId])).rows
      return rows.map((row) => ({ id: row.get('id') as string, user_id: row.get('user_id') as string, note: row.get('note') as string | null }))
    },
    async dispose() {
      for (const cleanup of cleanups) await cleanup()
    },
  }
}

/** The adapter, noting the pace counters it touches so they can be removed with the case's jobs. */
class TidiedBatchJobs extends CassandraBatchJobs {
  constructor(
    client: Client,
    private readonly paced: Set<string>,
  ) {
    // Pages of two: the listing of open jobs must read past its first page.
    super(client, ks, { listPageSize: 2 })
  }

  override takePaceToken(jobId: string, second: number): Promise<number> {
    this.paced.add(JSON.stringify([jobId, second]))
    return super.takePaceToken(jobId, second)
  }
}

/**
 * The Cassandra adapter; another instance is a second adapter on the same keyspace. The case's jobs
 * are removed afterwards (open entry first), so no batch runner of another test meets them.
 */
export function cassandraBatchJobs(db: Client): BatchJobStoreSubject {
  const used = new Set<string>()
  const paced = new Set<string>()
  return {
    store: new TidiedBatchJobs(db, paced),
    otherInstance: () => new TidiedBatchJobs(db, paced),
    uses: (jobId) => void used.add(jobId),
    async dispose() {
      for (const id of used) {
        await db.execute(`DELETE FROM ${ks}.user_deletion_batch_open WHERE id = ?`, [id], PREPARED)
        await db.execute(`DELETE FROM ${ks}.user_deletion_batch WHERE id = ?`, [id], PREPARED)
        await db.execute(`DELETE FROM ${ks}.user_deletion_batch_slice WHERE jobid = ?`, [id], PREPARED)
        await db.execute(`DELETE FROM ${ks}.user_deletion_batch_item WHERE jobid = ?`, [id], PREPARED)
      }
      for (const key of paced) {
        const [jobId, second] = JSON.parse(key) as [string, number]
        await db.execute(`DELETE FROM ${ks}.user_deletion_batch_pace WHERE jobid = ? AND second = ?`, [jobId, types.Long.fromNumber(second)], PREPARED)
      }
    },
  }
}

/** The adapter, noting the counters it touches so they can be removed after the case. */
class TidiedRequesterDeletionCounts extends CassandraRequesterDeletionCounts {
  constructor(
    client: Client,
    private readonly touched: Set<string>,
  ) {
    super(client, ks)
  }

  override add(requester: string, minute: number, delta: number): Promise<void> {
    this.touched.add(JSON.stringify([requester, minute]))
    return super.add(requester, minute, delta)
  }
}

/**
 * The Cassandra adapter over the tests' keyspace. Each case's requesters are new ids, so a counter
 * removed afterwards (a removed counter cannot be counted into again) is never used again.
 */
export function cassandraRequesterDeletionCounts(db: Client): RequesterDeletionCountsSubject {
  const touched = new Set<string>()
  return {
    counts: new TidiedRequesterDeletionCounts(db, touched),
    async dispose() {
      for (const key of touched) {
        const [requester, minute] = JSON.parse(key) as [string, number]
        await db.execute(
          `DELETE FROM ${ks}.user_deletion_requester_minutes WHERE requester = ? AND hour = ? AND minute = ?`,
          [requester, types.Long.fromNumber(Math.floor(minute / 60)), types.Long.fromNumber(minute)],
          PREPARED,
        )
      }
    },
  }
}
