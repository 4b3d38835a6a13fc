import { createHash, createHmac, randomUUID } from 'node:crypto'
import { type Client, types } from 'cassandra-driver'
import { formatSunbirdTimestamp } from '../src/shared/sunbird-timestamp.js'
import { chainHash } from '../src/store/cassandra-audit-trail.js'
import { SCRUBBED_USER_COLUMNS } from '../src/store/cassandra-user-store.js'

/** The service's default DELETION_LEASE_MS: the lease taken with the request and renewed at each checkpoint. */
const LEASE_MS = 30_000

/**
 * Baseline B: the Cassandra work of ONE successful deletion, issued straight through
 * cassandra-driver with nothing around it: no HTTP, no tokens, no workflow objects, no logging.
 *
 * Derived by reading the code at commit 724d788, the step records and the outbox as they are since
 * the checkpoints (the lock at once, the outcomes before the profile scrub, those up to the managed
 * users when there are any, the rest with the finish; the outbox two plain writes), and the request's
 * create as it is since a generated id is created plainly (issue #14), each checkpoint renewing the lease. The workflow is still moving: when it changes,
 * change this function. The bench's drift check records the CQL the real service issues for one
 * delete (after a warm-up delete, so per-process caches are warm) and fails the "B issues the CQL
 * the service issues" row when the two differ, so a stale baseline cannot go unnoticed.
 *
 * The case measured: a default (Sunbird) self-delete of a bench-seeded PUBLIC user (3 lookups, 6
 * contact values, no external identity, no organisation, no managed user, no root org), default
 * config: the event does not carry the name; the search engine, the Redis user cache and extra
 * targets are not configured (their steps only record that), the mass-deletion guard does not count
 * a self-deletion, no Idempotency-Key is sent, and the steady state: the receipt's table settings
 * (system_schema, cached 5 minutes per process) are not read again.
 *
 *   src/http/credentials/gateway-and-user-token.ts + src/auth/deleted-user-gate.ts: the lock-out gate
 *     reads the caller's row (first request of this user: a cache miss; 'active', so no state read)
 *   src/deletion/delete-user.ts deleteUser: roles, user, organisations; openRequest: the request
 *     listed open then created (a plain insert: no X-Request-Id is sent, so its id is the UUID the
 *     service generated, which no other call can name), audit 'accepted'; the lock (LWT), step
 *     'lock' recorded
 *   src/deletion/run-deletion.ts runRemainingSteps (src/deletion/steps/index.ts, plan 'sunbird'),
 *     each step, its outcome written at the next checkpoint: keycloak (HTTP to Keycloak in the service: the step record
 *     only), otp and rate_limit (by the profile's contacts), lookups, external identities,
 *     organisations, declarations, notes, search notes (not configured), shadow_user, user_feed,
 *     user_cert, address, extra targets (none), profile scrub, search user and cache (not
 *     configured), managed users, event (outbox entry + pending list, plain, together; the managed users' ids come
 *     from their step, so no second index read)
 *   src/deletion/settle-request.ts: finish with the receipt (the lease kept), audit 'completed',
 *     unlisted, then the lease given back
 *   src/store/cassandra-*.ts: the CQL text and per-statement options below
 *
 * Same CQL, same options (prepared; idempotent where the store says so; the lock, the one LWT, not),
 * and the client from src/store/cassandra-client.ts, so the consistency is the service's:
 * LOCAL_QUORUM, LOCAL_SERIAL for the lock; the audit appends are plain writes (no read, no LWT). Rows the bench
 * user does not have (codes, side-table rows, organisations) are deleted as the service would if
 * they were there. Audit appends go through one in-process queue, as CassandraAuditTrail.append
 * does: the hash chain needs the previous record, so one write is in flight at a time, and the
 * records queued meanwhile go together in the next (B sent them one by one until 2026-12-03, which
 * held its 50 deletions in flight to about 32 a second behind its own audit queue).
 */
export async function rawDeleteSequence(client: Client, keyspace: string, userId: string, audit: AuditChain | ErasureOnly): Promise<void> {
  /** False for baseline E: none of the writes that make the deletion durable and provable (see runErasureOnly). */
  const bookkeeping = audit !== ERASURE_ONLY
  const ks = keyspace
  const idempotent = { prepare: true, isIdempotent: true }
  const lwt = { prepare: true }
  const run = (cql: string, params: unknown[], options: object = idempotent) => client.execute(cql, params, options)
  const together = (writes: RawWrite[]) => sendTogether(client, writes)
  const requestId = randomUUID()
  const requestedBy = userId
  const findUser = `SELECT id, status, isdeleted, rootorgid, managedby FROM ${ks}.user WHERE id = ?`
  const findOrganisations = `SELECT organisationid, isdeleted FROM ${ks}.user_organisation WHERE userid = ?`
  /** The receipt's lines, as buildReceipt makes them from the recorded outcomes. */
  const receipt: ReceiptLine[] = []
  /** Outcomes not written yet: the service writes them at its checkpoints (run-deletion.ts) and with the finish. */
  let unrecorded: Record<string, string> = {}
  const recordStep = (step: string, store: string | undefined, status: string, action: string, count?: number, extra: Record<string, unknown> = {}) => {
    if (store) receipt.push({ store, action, ...(count !== undefined && { count }) })
    unrecorded[step] = JSON.stringify({ status, action, at: new Date().toISOString(), ...(count !== undefined && { count }), ...extra })
  }
  const checkpoint = async () => {
    if (!bookkeeping) return
    const outcomes = unrecorded
    unrecorded = {}
    await run(`UPDATE ${ks}.user_deletion_request SET steps = steps + ?, state = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`, [
      outcomes,
      'in_progress',
      new Date(Date.now() + LEASE_MS),
      new Date(),
      requestId,
    ])
  }

  // Authentication: the lock-out gate (first request of this user, so a cache miss).
  await run(findUser, [userId])
  // deleteUser: role restriction, existence, the organisations kept on the request.
  await run(`SELECT role FROM ${ks}.user_roles WHERE userid = ?`, [userId])
  const row = (await run(findUser, [userId])).first()
  if (!row) throw new Error(`baseline B: user ${userId} is not seeded`)
  const status = row.get('status') as number | null
  const isDeleted = row.get('isdeleted') as boolean | null
  const rootOrgId = (row.get('rootorgid') as string | null) ?? null
  const managedBy = (row.get('managedby') as string | null) ?? null
  const organisationIds = (await run(findOrganisations, [userId])).rows.filter((r) => r.get('isdeleted') !== true).map((r) => r.get('organisationid') as string)
  const now = new Date()
  if (bookkeeping) {
    // openRequest: listed open first, keeping what the request is created with (one JSON value), then created (plan, eraseplan, eraseat unset for Sunbird's deletion), then audited.
    const kept = JSON.stringify({ userId, createdAt: now.toISOString(), requestedBy, plan: 'sunbird', target: { rootOrgId, managedBy, organisationIds } })
    await run(`INSERT INTO ${ks}.user_deletion_request_open (id, userid, createdat, request) VALUES (?, ?, ?, ?)`, [requestId, userId, now, kept])
    await run(
      `INSERT INTO ${ks}.user_deletion_request (id, userid, requestedby, state, plan, eraseplan, eraseat, rootorgid, managedby, organisationids, leaseuntil, createdat, updatedat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [requestId, userId, requestedBy, 'accepted', types.unset, types.unset, types.unset, rootOrgId, managedBy, organisationIds, new Date(now.getTime() + LEASE_MS), now, now],
    )
    await audit.append({ event: 'deletion.accepted', requestId, userId, requestedBy, at: now.toISOString() })
    // The lock.
    const lock = await run(
      `UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ? WHERE id = ? IF status = ? AND isdeleted = ?`,
      [requestedBy, formatSunbirdTimestamp(new Date()), userId, status, isDeleted],
      lwt,
    )
    if (!lock.wasApplied()) throw new Error(`baseline B: the lock of ${userId} was not applied`)
    recordStep('lock', 'cassandra.user (status)', 'done', 'locked')
    await checkpoint()
  }
  const lockedAt = new Date()
  // keycloak: the service calls Keycloak's admin API here (logout 404 for seeded users: 'absent'); B records the step only.
  recordStep('keycloak', 'keycloak', 'done', 'absent')
  // otp, then rate_limit: the profile's contacts, read once for both, each table looked up in one read.
  const contact = (await run(`SELECT ${CONTACT_COLUMNS.join(', ')} FROM ${ks}.user WHERE id = ?`, [userId])).first()
  const contacts = [...new Set(CONTACT_COLUMNS.map((column) => contact?.get(column) as string | null).filter((value): value is string => typeof value === 'string' && value !== ''))]
  const hashes = (values: string[]) => values.map((value) => createHmac('sha256', RECEIPT_KEY).update(value).digest('hex'))
  const otpContacts = contacts
  const otpKeys = (await run(`SELECT type, key FROM ${ks}.otp WHERE type IN ? AND key IN ?`, [['email', 'phone'], otpContacts])).rows.map((r) => [r.get('type'), r.get('key')])
  for (const key of otpKeys) await run(`DELETE FROM ${ks}.otp WHERE type = ? AND key = ?`, key)
  recordStep('otp', 'cassandra.otp', 'done', 'deleted', otpKeys.length, { hashes: hashes(otpContacts) })
  const rateContacts = contacts
  const rateKeys = (await run(`SELECT key, unit FROM ${ks}.rate_limit WHERE key IN ?`, [rateContacts])).rows.map((r) => [r.get('key'), r.get('unit')])
  for (const key of rateKeys) await run(`DELETE FROM ${ks}.rate_limit WHERE key = ? AND unit = ?`, key)
  recordStep('rateLimit', 'cassandra.rate_limit', 'done', 'deleted', rateKeys.length, { hashes: hashes(rateContacts) })
  // lookups
  const lookups = (await run(`SELECT type, value FROM ${ks}.user_lookup WHERE userid = ?`, [userId])).rows
  await together(lookups.map((r) => ({ query: `DELETE FROM ${ks}.user_lookup WHERE type = ? AND value = ?`, params: [r.get('type'), r.get('value')] })))
  recordStep('lookups', 'cassandra.user_lookup', 'done', 'deleted', lookups.length)
  // external identities
  const identities = (await run(`SELECT provider, idtype, externalid FROM ${ks}.usr_external_identity WHERE userid = ?`, [userId])).rows
  await together(
    identities.map((r) => ({
      query: `DELETE FROM ${ks}.usr_external_identity WHERE provider = ? AND idtype = ? AND externalid = ?`,
      params: [r.get('provider'), r.get('idtype'), r.get('externalid')],
    })),
  )
  recordStep('externalIdentities', 'cassandra.usr_external_identity', 'done', 'deleted', identities.length)
  // organisations
  const memberships = (await run(findOrganisations, [userId])).rows
  const when = formatSunbirdTimestamp(new Date())
  await together(
    memberships.map((r) => ({
      query: `UPDATE ${ks}.user_organisation SET isdeleted = true, orgleftdate = ?, updateddate = ? WHERE userid = ? AND organisationid = ?`,
      params: [when, when, userId, r.get('organisationid')],
    })),
  )
  recordStep('organisations', 'cassandra.user_organisation', 'done', 'marked-left', memberships.length)
  // declarations: keyed by the user, so counted, then one partition delete.
  const declarations = (await run(`SELECT userid FROM ${ks}.user_declarations WHERE userid = ?`, [userId])).rowLength
  if (declarations > 0) await run(`DELETE FROM ${ks}.user_declarations WHERE userid = ?`, [userId])
  recordStep('declarations', 'cassandra.user_declarations', 'done', 'deleted', declarations)
  // The tables found by their userid index: row by row, by primary key, one after another.
  const byIndex = async (table: string, key: readonly string[], write: string) => {
    const rows = (await run(`SELECT ${key.join(', ')} FROM ${ks}.${table} WHERE userid = ?`, [userId])).rows
    for (const r of rows) {
      const values = key.map((column) => r.get(column))
      await run(write, values)
    }
    return rows.length
  }
  const deleteById = (table: string) => byIndex(table, ['id'], `DELETE FROM ${ks}.${table} WHERE id = ?`)
  recordStep('notes', 'cassandra.user_notes', 'done', 'deleted', await deleteById('user_notes'))
  recordStep('searchNotes', 'search.usernotes', 'skipped', 'not configured')
  const shadow = await byIndex('shadow_user', ['channel', 'userextid'], `UPDATE ${ks}.shadow_user SET name = null, email = null, phone = null WHERE channel = ? AND userextid = ?`)
  recordStep('shadowUser', 'cassandra.shadow_user', 'done', 'blanked', shadow)
  recordStep('userFeed', 'cassandra.user_feed', 'done', 'deleted', await deleteById('user_feed'))
  recordStep('userCert', 'cassandra.user_cert', 'done', 'deleted', await deleteById('user_cert'))
  recordStep('address', 'cassandra.address', 'done', 'deleted', await deleteById('address'))
  // extra targets: none configured (no receipt line: the step's entries are empty).
  recordStep('extraTargets', undefined, 'skipped', 'none configured', undefined, { entries: [] })
  // profile scrub: what was found from its contacts is recorded before it runs.
  await checkpoint()
  const scrub = SCRUBBED_COLUMNS.map(([column]) => `${column} = ?`).join(', ')
  await run(`UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ?, ${scrub} WHERE id = ?`, [
    requestedBy,
    formatSunbirdTimestamp(new Date()),
    ...SCRUBBED_COLUMNS.map(([, value]) => value),
    userId,
  ])
  recordStep('userRow', 'cassandra.user (profile)', 'done', 'scrubbed')
  recordStep('searchUser', 'search.user_alias', 'skipped', 'not configured')
  recordStep('cacheUser', 'redis.user', 'skipped', 'not configured')
  // managed users (bench users manage nobody; the service would scrub each child here): their ids are kept for the event.
  const managed = (await run(`SELECT id FROM ${ks}.user WHERE managedby = ?`, [userId])).rows.map((r) => r.get('id') as string)
  recordStep('managedUsers', 'cassandra.user (managed users)', managed.length ? 'done' : 'skipped', 'scrubbed', managed.length, { ids: managed })
  // Recorded at once only when it names managed users (a run again might not find them).
  if (managed.length > 0) await checkpoint()
  if (!bookkeeping) return
  // event: the managed users' ids from their step (no index read); the root org's admins only when there is a root org.
  const orgAdmins = rootOrgId
    ? (await run(`SELECT userid, scope FROM ${ks}.user_roles WHERE role = ?`, ['ORG_ADMIN'])).rows
        .filter((r) => String(r.get('scope') ?? '').includes(rootOrgId) && r.get('userid') !== userId)
        .slice(0, 250)
        .map((r) => r.get('userid') as string)
    : []
  // The event's time is the lock's, its mid follows from the request: a run again writes the same one.
  const ets = lockedAt.getTime()
  const mid = `LP.${ets}.${createHash('sha1').update(requestId).digest('hex').slice(0, 32)}`
  const event = {
    eid: 'BE_JOB_REQUEST',
    ets,
    mid,
    actor: { id: 'Sunbird LMS Flink Job', type: 'System' },
    context: { pdata: { id: 'org.sunbird.platform', ver: '1.0' }, cdata: { id: requestId, type: 'Request' } },
    object: { id: userId, type: 'user' },
    edata: {
      organisationId: rootOrgId,
      userId,
      suggested_users: orgAdmins.length ? [{ role: 'ORG_ADMIN', users: orgAdmins }] : [],
      managed_users: managed,
      action: 'delete-user',
      iteration: 1,
    },
  }
  const queuedAt = new Date()
  await together([
    { query: `INSERT INTO ${ks}.user_deletion_event_outbox (requestid, mid, userid, payload, createdat) VALUES (?, ?, ?, ?, ?)`, params: [requestId, mid, userId, JSON.stringify(event), queuedAt] },
    { query: `INSERT INTO ${ks}.user_deletion_event_outbox_pending (requestid, createdat) VALUES (?, ?)`, params: [requestId, queuedAt] },
  ])
  recordStep('event', 'kafka (delete.user topic)', 'done', 'queued')
  // finished (state + receipt, the lease kept), then audited, then unlisted and the lease given back:
  // the end is decided before its record, which is stored before the request leaves the list
  await run(`UPDATE ${ks}.user_deletion_request SET steps = steps + ?, state = ?, reason = ?, receipt = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`, [
    unrecorded,
    'completed',
    null,
    receiptText(requestId, userId, receipt),
    new Date(Date.now() + LEASE_MS),
    new Date(),
    requestId,
  ])
  await audit.append({ event: 'deletion.completed', requestId, userId, requestedBy, at: new Date().toISOString() })
  await run(`DELETE FROM ${ks}.user_deletion_request_open WHERE id = ?`, [requestId])
  await run(`UPDATE ${ks}.user_deletion_request SET leaseuntil = ? WHERE id = ?`, [new Date(0), requestId])
}

export interface RawWrite {
  query: string
  params: unknown[]
}

/** Independent idempotent writes as the service sends them (writeTogether): one alone, several as one unlogged batch. */
export async function sendTogether(client: Client, writes: readonly RawWrite[]): Promise<void> {
  const idempotent = { prepare: true, isIdempotent: true }
  const [only] = writes
  if (!only) return
  if (writes.length === 1) await client.execute(only.query, only.params, idempotent)
  else await client.batch([...writes], { ...idempotent, logged: false })
}

/**
 * The audit hash chain's append as CassandraAuditTrail does it: one chain per process, the head kept
 * in memory, each record a plain INSERT (no read, no lightweight transaction), in order; the records
 * queued while a write is in flight go together in the next one (at most 64, one single-partition
 * batch, as writeTogether sends them), so concurrent deletions do not wait for each other's append.
 * One chain writes through one client into one keyspace's audit table, as the service's does.
 */
export class AuditChain {
  private readonly chain = randomUUID()
  private seq = 0
  private hash = '0'.repeat(64)
  private queue: { record: Record<string, string>; resolve(): void; reject(err: unknown): void }[] = []
  private writing = false
  private readonly insert: string

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.insert = `INSERT INTO ${keyspace}.user_deletion_audit (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?)`
  }

  append(record: Record<string, string>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject })
      void this.drain()
    })
  }

  private async drain(): Promise<void> {
    if (this.writing) return
    this.writing = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 64)
        try {
          await this.write(batch)
          for (const pending of batch) pending.resolve()
        } catch (err) {
          for (const pending of batch) pending.reject(err)
        }
      }
    } finally {
      this.writing = false
    }
  }

  private async write(batch: { record: Record<string, string> }[]): Promise<void> {
    if (batch.length === 0) return
    let { seq, hash } = this
    const writes = batch.map(({ record }) => {
      const text = JSON.stringify(record)
      const prevHash = hash
      seq++
      hash = chainHash(prevHash, seq, text)
      return {
        query: this.insert,
        params: [this.chain, seq, new Date(record.at as string), text, prevHash, hash],
      }
    })
    await sendTogether(this.client, writes)
    this.seq = seq
    this.hash = hash
  }
}

const RECEIPT_KEY = 'bench-receipt-key'

/** The contact columns the otp and rate_limit steps look codes up by (src/store/cassandra-personal-tables.ts). */
export const CONTACT_COLUMNS = ['email', 'phone', 'prevusedemail', 'prevusedphone', 'recoveryemail', 'recoveryphone'] as const

export interface ReceiptLine {
  store: string
  action: string
  count?: number
}

/**
 * A receipt of the service's shape and size (src/deletion/receipt.ts, settle-request.ts): one line
 * per store in step order (the steps' `store`), the stores Sunbird's deletion keeps or leaves to
 * others, the audit trail; each Cassandra table's and the topic's physical-erasure horizon as
 * LivePhysicalErasure words it (from settings it has cached), a keyed-hash subject.
 */
export function receiptText(requestId: string, userId: string, done: readonly ReceiptLine[]): string {
  const completedAt = new Date()
  const kept = (store: string, action = 'kept'): ReceiptLine => ({ store, action })
  // In step order: user_consent (hard only) sits between declarations and notes.
  const at = done.findIndex((line) => line.store === 'cassandra.user_notes')
  const lines = [
    ...done.slice(0, at),
    kept('cassandra.user_consent'),
    ...done.slice(at),
    kept('cassandra.user_roles'),
    kept('downstream.ml', 'left to ml via the delete-user event'),
    kept('downstream.knowlg', 'left to knowlg via the delete-user event'),
    kept('cassandra.bulk_upload_process', 'not reachable by user id'),
    kept('cassandra.user_deletion_audit', 'appended'),
  ]
  const later = (ms: number) => new Date(completedAt.getTime() + ms).toISOString()
  const horizon = (store: string) => {
    if (store.startsWith('kafka')) {
      return {
        physicallyErasedBy: later(604_800_000),
        physicalErasure: 'the event stays in topic local.delete.user until retention.ms (604800000 ms) has passed and its log segment is deleted; a lower retention.ms on the topic shortens it',
      }
    }
    const table = /^cassandra\.([a-z_]+)/.exec(store)?.[1]
    // bulk_upload_process is not a table of the bench keyspace: no settings, no horizon.
    if (!table || table === 'bulk_upload_process') return {}
    return {
      physicallyErasedBy: later(864_000_000),
      physicalErasure:
        'old values stay in SSTables until gc_grace_seconds (864000 s) has passed and a compaction (SizeTieredCompactionStrategy) merges them; ' +
        `after that date "nodetool compact sunbird_bench ${table}" (or garbagecollect) on every node drops them at once`,
    }
  }
  return JSON.stringify({
    requestId,
    subject: createHmac('sha256', RECEIPT_KEY).update(userId).digest('hex'),
    state: 'completed',
    completedAt: completedAt.toISOString(),
    stores: lines.map((line) => ({ ...line, why: 'what this store lost in the deletion and why, in about one line of plain words', ...horizon(line.store) })),
  })
}

/** The personal columns blanked by the profile scrub, with the values it writes: the store's own list, so the bench sends what the service sends. */
export const SCRUBBED_COLUMNS: readonly (readonly [string, string | boolean | null])[] = Object.entries(SCRUBBED_USER_COLUMNS)

export interface TimedRun {
  /** Milliseconds per completed operation, in completion order. */
  latenciesMs: number[]
  errors: number
  firstError?: string
  seconds: number
}

/** The erasure alone: rawDeleteSequence without the request, the lock, the audit and the event. */
export const ERASURE_ONLY = 'erasure only'
export type ErasureOnly = typeof ERASURE_ONLY

/**
 * Baseline E: B's reads and erasure writes only, what finds and changes a person's rows in the
 * Cassandra tables of the fifteen stores, with none of the bookkeeping that makes a deletion durable
 * and provable (no request row, no checkpoint, no lock, no audit append, no event outbox); the
 * profile scrub marks the row deleted, as Sunbird's own update does. About what any design that
 * erases those tables pays: its Cassandra CPU against S's says how much of the service's is the
 * erasure and how much the bookkeeping.
 */
export async function runErasureOnly(client: Client, keyspace: string, userIds: readonly string[], concurrency: number): Promise<TimedRun> {
  return timeEachDeletion(userIds, concurrency, (userId) => rawDeleteSequence(client, keyspace, userId, ERASURE_ONLY))
}

/** Deletes every user once, `concurrency` at a time (workers pulling from one queue), timing each deletion. */
export async function runBaselineB(client: Client, keyspace: string, userIds: readonly string[], concurrency: number): Promise<TimedRun> {
  const audit = new AuditChain(client, keyspace)
  return timeEachDeletion(userIds, concurrency, (userId) => rawDeleteSequence(client, keyspace, userId, audit))
}

/** Runs `deleteOne` for every user, `concurrency` at a time (workers pulling from one queue), timing each. */
export async function timeEachDeletion(userIds: readonly string[], concurrency: number, deleteOne: (userId: string) => Promise<unknown>): Promise<TimedRun> {
  const latenciesMs: number[] = []
  let errors = 0
  let firstError: string | undefined
  let next = 0
  let lastDone = process.hrtime.bigint()
  const started = lastDone
  const worker = async () => {
    for (let i = next++; i < userIds.length; i = next++) {
      const t0 = process.hrtime.bigint()
      try {
        await deleteOne(userIds[i] as string)
        lastDone = process.hrtime.bigint()
        latenciesMs.push(Number(lastDone - t0) / 1e6)
      } catch (err) {
        errors++
        firstError ??= err instanceof Error ? err.message : String(err)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, userIds.length) }, worker))
  return { latenciesMs, errors, ...(firstError ? { firstError } : {}), seconds: Number(lastDone - started) / 1e9 }
}
