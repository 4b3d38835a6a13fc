import { createHash, createHmac, randomUUID } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { formatSunbirdTimestamp } from '../src/shared/sunbird-timestamp.js'

/**
 * Baseline B: the Cassandra work of ONE successful deletion, issued straight through
 * cassandra-driver with nothing around it: no HTTP, no tokens, no workflow objects, no logging.
 *
 * Derived by reading the code at commit ead9600 (the happy path as 231c660, "Deletion as a durable,
 * resumable request", introduced it). The workflow is still moving: when it changes, change this
 * function. The bench's drift check records the CQL the real service issues for one delete and
 * fails the "B issues the CQL the service issues" row when the two differ, so a stale baseline
 * cannot go unnoticed.
 *
 * The case measured: a self-delete of a seeded PUBLIC user (3 lookups, no external identity, no
 * organisation, no managed user, no root org), default config (the event does not carry the name).
 *
 *   src/http/credentials/gateway-and-user-token.ts + src/auth/deleted-user-gate.ts: the lock-out gate reads the caller's row
 *   src/deletion/delete-user.ts deleteUser: roles, user, organisations, request created (LWT) and
 *     listed open, audit 'accepted', the lock (LWT), step 'lock' recorded
 *   src/deletion/run-deletion.ts runRemainingSteps, each step then its recordStep:
 *     keycloak (HTTP to Keycloak in the service, not Cassandra: not in B), lookups, external
 *     identities, organisations, profile scrub, managed users, event (outbox LWT + pending list),
 *     then finish + unlist, audit 'completed'
 *   src/store/cassandra-*.ts: the CQL text and per-statement options below
 *
 * Same CQL, same options (prepared; idempotent where the store says so; the LWTs not), and the
 * client from src/store/cassandra-client.ts, so the consistency is the service's: LOCAL_QUORUM,
 * LOCAL_SERIAL for the LWTs; the audit appends are plain writes (no read, no LWT).
 * Audit appends go through one in-process queue, as CassandraAuditTrail.append does: the hash
 * chain needs the previous record, so appends are serialised whoever issues them.
 */
export async function rawDeleteSequence(client: Client, keyspace: string, userId: string, audit: AuditChain): Promise<void> {
  const ks = keyspace
  const idempotent = { prepare: true, isIdempotent: true }
  const lwt = { prepare: true }
  const run = (cql: string, params: unknown[], options: object = idempotent) => client.execute(cql, params, options)
  const requestId = randomUUID()
  const requestedBy = userId
  const findUser = `SELECT id, status, isdeleted, rootorgid, managedby FROM ${ks}.user WHERE id = ?`
  const findOrganisations = `SELECT organisationid, isdeleted FROM ${ks}.user_organisation WHERE userid = ?`
  const findManaged = `SELECT id FROM ${ks}.user WHERE managedby = ?`
  const recordStep = (step: string, status: string, action: string, count?: number) =>
    run(`UPDATE ${ks}.user_deletion_request SET steps[?] = ?, state = ?, updatedat = ? WHERE id = ?`, [
      step,
      JSON.stringify({ status, action, at: new Date().toISOString(), ...(count !== undefined && { count }) }),
      'in_progress',
      new Date(),
      requestId,
    ])

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
  // The durable request, then its open-list entry.
  const now = new Date()
  const created = await run(
    `INSERT INTO ${ks}.user_deletion_request (id, userid, requestedby, state, steps, rootorgid, managedby, organisationids, leaseuntil, createdat, updatedat) VALUES (?, ?, ?, ?, {}, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    [requestId, userId, requestedBy, 'accepted', rootOrgId, managedBy, organisationIds, new Date(now.getTime() + 30_000), now, now],
    lwt,
  )
  if (!created.wasApplied()) throw new Error('baseline B: request id clash')
  await run(`INSERT INTO ${ks}.user_deletion_request_open (id, userid, createdat) VALUES (?, ?, ?)`, [requestId, userId, now])
  await audit.append(client, ks, { event: 'deletion.accepted', requestId, userId, requestedBy, at: now.toISOString() })
  // The lock.
  const lock = await run(
    `UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ? WHERE id = ? IF status = ? AND isdeleted = ?`,
    [requestedBy, formatSunbirdTimestamp(new Date()), userId, status, isDeleted],
    lwt,
  )
  if (!lock.wasApplied()) throw new Error(`baseline B: the lock of ${userId} was not applied`)
  await recordStep('lock', 'done', 'locked')
  // keycloak: the service calls Keycloak's admin API here; B records the step only.
  await recordStep('keycloak', 'done', 'absent')
  // lookups
  const lookups = (await run(`SELECT type, value FROM ${ks}.user_lookup WHERE userid = ?`, [userId])).rows
  await Promise.all(lookups.map((r) => run(`DELETE FROM ${ks}.user_lookup WHERE type = ? AND value = ?`, [r.get('type'), r.get('value')])))
  await recordStep('lookups', 'done', 'deleted', lookups.length)
  // external identities
  const identities = (await run(`SELECT provider, idtype, externalid FROM ${ks}.usr_external_identity WHERE userid = ?`, [userId])).rows
  await Promise.all(
    identities.map((r) => run(`DELETE FROM ${ks}.usr_external_identity WHERE provider = ? AND idtype = ? AND externalid = ?`, [r.get('provider'), r.get('idtype'), r.get('externalid')])),
  )
  await recordStep('externalIdentities', 'done', 'deleted', identities.length)
  // organisations
  const memberships = (await run(findOrganisations, [userId])).rows
  const when = formatSunbirdTimestamp(new Date())
  await Promise.all(
    memberships.map((r) =>
      run(`UPDATE ${ks}.user_organisation SET isdeleted = true, orgleftdate = ?, updateddate = ? WHERE userid = ? AND organisationid = ?`, [when, when, userId, r.get('organisationid')]),
    ),
  )
  await recordStep('organisations', 'done', 'marked-left', memberships.length)
  // profile scrub
  const scrub = SCRUBBED_COLUMNS.map(([column]) => `${column} = ?`).join(', ')
  await run(`UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ?, ${scrub} WHERE id = ?`, [
    requestedBy,
    formatSunbirdTimestamp(new Date()),
    ...SCRUBBED_COLUMNS.map(([, value]) => value),
    userId,
  ])
  await recordStep('userRow', 'done', 'scrubbed')
  // managed users (none)
  const managed = (await run(findManaged, [userId])).rows
  await recordStep('managedUsers', managed.length ? 'done' : 'skipped', 'scrubbed', managed.length)
  // event: managed users again (no root org, so no org-admin read), then the outbox
  const managedForEvent = (await run(findManaged, [userId])).rows.map((r) => r.get('id') as string)
  const ets = Date.now()
  const mid = `LP.${ets}.${randomUUID()}`
  const event = {
    eid: 'BE_JOB_REQUEST',
    ets,
    mid,
    actor: { id: 'Sunbird LMS Flink Job', type: 'System' },
    context: { pdata: { id: 'org.sunbird.platform', ver: '1.0' }, cdata: { id: requestId, type: 'Request' } },
    object: { id: userId, type: 'user' },
    edata: { organisationId: null, userId, suggested_users: [], managed_users: managedForEvent, action: 'delete-user', iteration: 1 },
  }
  const appended = await run(
    `INSERT INTO ${ks}.user_deletion_event_outbox (requestid, mid, userid, payload, createdat, attempts) VALUES (?, ?, ?, ?, ?, 0) IF NOT EXISTS`,
    [requestId, mid, userId, JSON.stringify(event), new Date()],
    lwt,
  )
  if (appended.wasApplied()) await run(`INSERT INTO ${ks}.user_deletion_event_outbox_pending (requestid, createdat) VALUES (?, ?)`, [requestId, new Date()])
  await recordStep('event', 'done', 'queued')
  // finish: state + receipt, unlisted, audited
  await run(`UPDATE ${ks}.user_deletion_request SET state = ?, reason = ?, receipt = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`, [
    'completed',
    null,
    receiptText(requestId, userId),
    new Date(0),
    new Date(),
    requestId,
  ])
  await run(`DELETE FROM ${ks}.user_deletion_request_open WHERE id = ?`, [requestId])
  await audit.append(client, ks, { event: 'deletion.completed', requestId, userId, requestedBy, at: new Date().toISOString() })
}

/**
 * The audit hash chain's append as CassandraAuditTrail does it: one chain per process, the head kept
 * in memory, each record one plain INSERT (no read, no lightweight transaction), in order.
 */
export class AuditChain {
  private readonly chain = randomUUID()
  private seq = 0
  private hash = '0'.repeat(64)
  private tail: Promise<void> = Promise.resolve()

  append(client: Client, keyspace: string, record: Record<string, string>): Promise<void> {
    const next = this.tail.then(() => this.appendNow(client, keyspace, record))
    this.tail = next.catch(() => undefined)
    return next
  }

  private async appendNow(client: Client, ks: string, record: Record<string, string>): Promise<void> {
    const text = JSON.stringify(record)
    const seq = this.seq + 1
    const prevHash = this.hash
    const hash = createHash('sha256').update(`${prevHash}\n${seq}\n${text}`).digest('hex')
    await client.execute(
      `INSERT INTO ${ks}.user_deletion_audit (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?)`,
      [this.chain, seq, new Date(record.at as string), text, prevHash, hash],
      {
        prepare: true,
        isIdempotent: true,
      },
    )
    this.seq = seq
    this.hash = hash
  }
}

/** A receipt of the service's shape and size (src/deletion/receipt.ts): per-store actions, keyed-hash subject. */
function receiptText(requestId: string, userId: string): string {
  const stores = [
    'cassandra.user (status)',
    'keycloak',
    'cassandra.user_lookup',
    'cassandra.usr_external_identity',
    'cassandra.user_organisation',
    'cassandra.user (profile)',
    'cassandra.user (managed users)',
    'kafka (delete.user topic)',
    'cassandra.user_roles',
    'cassandra.user_deletion_audit',
  ]
  return JSON.stringify({
    requestId,
    subject: createHmac('sha256', 'bench-receipt-key').update(userId).digest('hex'),
    state: 'completed',
    completedAt: new Date().toISOString(),
    stores: stores.map((store) => ({ store, action: 'done', why: 'what this store lost in the deletion and why, in about one line of plain words' })),
  })
}

/** The personal columns blanked by the profile scrub, in the store's order, with the values it writes. */
const SCRUBBED_COLUMNS: readonly (readonly [string, string | boolean | null])[] = [
  ['username', ''],
  ['email', ''],
  ['phone', ''],
  ['maskedemail', ''],
  ['maskedphone', ''],
  ['prevusedemail', ''],
  ['prevusedphone', ''],
  ['recoveryemail', ''],
  ['recoveryphone', ''],
  ['firstname', ''],
  ['lastname', ''],
  ['dob', ''],
  ['countrycode', ''],
  ['gender', ''],
  ['avatar', ''],
  ['loginid', ''],
  ['emailverified', false],
  ['phoneverified', false],
  ['profilelocation', '[]'],
  ['profiledetails', null],
]

export interface TimedRun {
  /** Milliseconds per completed operation, in completion order. */
  latenciesMs: number[]
  errors: number
  firstError?: string
  seconds: number
}

/** Deletes every user once, `concurrency` at a time (workers pulling from one queue), timing each deletion. */
export async function runBaselineB(client: Client, keyspace: string, userIds: readonly string[], concurrency: number): Promise<TimedRun> {
  const audit = new AuditChain()
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
