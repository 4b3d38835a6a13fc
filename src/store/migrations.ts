import { type Client, errors, type Host, types } from 'cassandra-driver'
import type { Config } from '../config/config.js'
import { DependencyUnavailableError, WordedCause } from '../deletion/errors.js'
import { readSchemas } from '../schemas/schema-registry.js'
import { isCassandraUnavailable } from './cassandra-call.js'
import { createCassandraClient } from './cassandra-client.js'
import { addColumn, addColumnIfMissing, type ColumnAddition, columnAdditionCql } from './column-addition.js'
import { acquireMigrationLock, type MigrationLockOptions, migrationLockTableCql } from './migration-lock.js'

/** One step of a migration: a CQL statement, or a column added where the table lacks it (see column-addition.ts). */
export type MigrationStep = string | ColumnAddition

export interface Migration {
  version: number
  description: string
  statements: (keyspace: string) => MigrationStep[]
}

/**
 * Sunbird's tables with Sunbird's names, keys and column types (sunbird-utils migrations), plus
 * what this product needs on top. Append only: what a released migration does never changes (5–18
 * were respelled, same columns and types, so that they run on Sunbird's Cassandra 3.11: addColumn).
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'Sunbird user tables: user, user_lookup, user_roles, user_organisation, usr_external_identity',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.user (
        id text PRIMARY KEY, userid text, username text, email text, phone text,
        maskedemail text, maskedphone text, prevusedemail text, prevusedphone text,
        recoveryemail text, recoveryphone text, firstname text, lastname text, dob text,
        countrycode text, gender text, avatar text, loginid text, emailverified boolean, phoneverified boolean,
        status int, isdeleted boolean, flagsvalue int, profilelocation text, profileusertypes text, profiledetails text,
        rootorgid text, channel text, managedby text, roles list<text>, framework map<text, frozen<list<text>>>,
        tncacceptedon timestamp, tncacceptedversion text, alltncaccepted map<text, text>,
        createddate text, updateddate text, createdby text, updatedby text)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_lookup (type text, value text, userid text, PRIMARY KEY ((type, value)))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_roles (
        userid text, role text, scope text, createdby text, createddate timestamp, updatedby text, updateddate timestamp,
        PRIMARY KEY (userid, role))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_organisation (
        userid text, organisationid text, id text, hashtagid text, associationtype int, roles list<text>,
        isdeleted boolean, orgjoindate text, orgleftdate text, addedby text, approvedby text, approvaldate text,
        isapproved boolean, isrejected boolean, position text, updatedby text, updateddate text,
        PRIMARY KEY (userid, organisationid))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.usr_external_identity (
        provider text, idtype text, externalid text, userid text, createdby text, createdon timestamp,
        lastupdatedby text, lastupdatedon timestamp, originalexternalid text, originalidtype text, originalprovider text,
        PRIMARY KEY (provider, idtype, externalid))`,
      `CREATE INDEX IF NOT EXISTS usr_external_identity_userid_idx ON ${ks}.usr_external_identity (userid)`,
    ],
  },
  {
    version: 2,
    description: 'Index user_lookup by userid so deletion finds every lookup of a user, also stale ones',
    statements: (ks) => [`CREATE INDEX IF NOT EXISTS user_lookup_userid_idx ON ${ks}.user_lookup (userid)`],
  },
  {
    version: 3,
    description: 'identity_erasure_pending: Keycloak erasures owed, written ahead of the user-row commit',
    statements: (ks) => [`CREATE TABLE IF NOT EXISTS ${ks}.identity_erasure_pending (userid text PRIMARY KEY, since timestamp, attempts int, lastattempt timestamp)`],
  },
  {
    version: 4,
    description: 'Durable deletion requests, event outbox, hash-chained audit trail; indexes for managed users and org admins',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_request (
        id text PRIMARY KEY, userid text, requestedby text, state text, steps map<text, text>,
        rootorgid text, managedby text, organisationids set<text>, leaseuntil timestamp,
        createdat timestamp, updatedat timestamp, reason text, receipt text)`,
      `CREATE INDEX IF NOT EXISTS user_deletion_request_userid_idx ON ${ks}.user_deletion_request (userid)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_request_open (id text PRIMARY KEY, userid text, createdat timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_event_outbox (
        requestid text PRIMARY KEY, mid text, userid text, payload text, createdat timestamp, publishedat timestamp, attempts int)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_event_outbox_pending (requestid text PRIMARY KEY, createdat timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_audit (
        chain text, seq bigint, at timestamp, record text, prevhash text, hash text, PRIMARY KEY (chain, seq))
        WITH CLUSTERING ORDER BY (seq ASC)`,
      `CREATE INDEX IF NOT EXISTS user_managedby_idx ON ${ks}.user (managedby)`,
      `CREATE INDEX IF NOT EXISTS user_roles_role_idx ON ${ks}.user_roles (role)`,
      // Superseded by the steps of user_deletion_request (the Keycloak step is retried from there).
      `DROP TABLE IF EXISTS ${ks}.identity_erasure_pending`,
    ],
  },
  {
    version: 5,
    description: 'Deletion modes and lifecycle: each request records its plan and erasure schedule; which deletion holds each user; Idempotency-Key answers',
    statements: (ks) => [
      // Additive: a request without a plan is Sunbird's deletion, as every request was before.
      addColumn(ks, 'user_deletion_request', 'plan', 'text'),
      addColumn(ks, 'user_deletion_request', 'eraseplan', 'text'),
      addColumn(ks, 'user_deletion_request', 'eraseat', 'timestamp'),
      addColumn(ks, 'user_deletion_request_open', 'dueat', 'timestamp'),
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_state (userid text PRIMARY KEY, mode text, requestid text, updatedat timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.api_idempotency_key (
        owner text, keyhash text, fingerprint text, state text, status int, headers text, body blob, errcode text, createdat timestamp,
        PRIMARY KEY ((owner, keyhash)))`,
    ],
  },
  {
    version: 6,
    description: 'Audit trail: one hash chain per service instance (user_deletion_audit keyed by chain already), anchored periodically in user_deletion_audit_anchor',
    statements: (ks) => [`CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_audit_anchor (chain text, seq bigint, hash text, at timestamp, PRIMARY KEY (chain, seq))`],
  },
  {
    version: 7,
    description: "Sunbird's other user-keyed tables (user_declarations, user_consent, user_notes, otp, rate_limit, legacy shadow_user, user_feed, user_cert, address) with their userid indexes",
    statements: (ks) => [
      // sunbird-utils V1.104
      `CREATE TABLE IF NOT EXISTS ${ks}.user_declarations (
        userid text, orgid text, persona text, errortype text, status text, userinfo map<text, text>,
        createdby text, createdon timestamp, updatedby text, updatedon timestamp,
        PRIMARY KEY (userid, orgid, persona))`,
      // V1.110
      `CREATE TABLE IF NOT EXISTS ${ks}.user_consent (
        id text, user_id text, consumer_id text, consumer_type text, object_id text, object_type text, status text,
        expiry timestamp, categories list<text>, consent_data text, created_on timestamp, last_updated_on timestamp,
        PRIMARY KEY (user_id, consumer_id, object_id))`,
      // V1.0 (notes are mirrored to the search index usernotes)
      `CREATE TABLE IF NOT EXISTS ${ks}.user_notes (
        id text PRIMARY KEY, userid text, courseid text, contentid text, title text, note text, tags list<text>,
        isdeleted boolean, createdby text, createddate text, updatedby text, updateddate text)`,
      `CREATE INDEX IF NOT EXISTS user_notes_userid_idx ON ${ks}.user_notes (userid)`,
      `CREATE INDEX IF NOT EXISTS user_notes_courseid_idx ON ${ks}.user_notes (courseid)`,
      `CREATE INDEX IF NOT EXISTS user_notes_contentid_idx ON ${ks}.user_notes (contentid)`,
      // V1.43, V1.95: key = the plain email or phone; rows written with a TTL
      `CREATE TABLE IF NOT EXISTS ${ks}.otp (type text, key text, otp text, attemptedcount int, createdon timestamp, PRIMARY KEY (type, key))`,
      // V1.47: key = the plain email or phone of code requests
      `CREATE TABLE IF NOT EXISTS ${ks}.rate_limit (key text, rate int, ttl int, unit text, PRIMARY KEY (key, unit))`,
      // V1.78, V1.88 (legacy bulk migration)
      `CREATE TABLE IF NOT EXISTS ${ks}.shadow_user (
        channel text, userextid text, addedby text, claimedon timestamp, claimstatus int, createdon timestamp, email text, name text,
        orgextid text, phone text, processid text, updatedon timestamp, userid text, userids list<text>, userstatus int, attemptedcount int,
        PRIMARY KEY (channel, userextid))`,
      `CREATE INDEX IF NOT EXISTS shadow_user_userid_idx ON ${ks}.shadow_user (userid)`,
      // V1.90 (legacy feed)
      `CREATE TABLE IF NOT EXISTS ${ks}.user_feed (
        id text PRIMARY KEY, userid text, category text, priority int, status text, data text, expireon timestamp,
        createdby text, createdon timestamp, updatedby text, updatedon timestamp)`,
      `CREATE INDEX IF NOT EXISTS user_feed_userid_idx ON ${ks}.user_feed (userid)`,
      `CREATE INDEX IF NOT EXISTS user_feed_category_idx ON ${ks}.user_feed (category)`,
      // V1.67, V1.68, V1.71, V1.84 (legacy certificates)
      `CREATE TABLE IF NOT EXISTS ${ks}.user_cert (
        id text PRIMARY KEY, userid text, certid text, store map<text, text>, accesscode text, oldid text, isdeleted boolean,
        createdat timestamp, updatedat timestamp)`,
      `CREATE INDEX IF NOT EXISTS user_cert_userid_idx ON ${ks}.user_cert (userid)`,
      // V1.0 (legacy addresses)
      `CREATE TABLE IF NOT EXISTS ${ks}.address (
        id text PRIMARY KEY, userid text, addressline1 text, addressline2 text, city text, state text, zipcode text, country text,
        addtype text, isdeleted boolean, createdby text, createddate text, updatedby text, updateddate text)`,
      `CREATE INDEX IF NOT EXISTS address_userid_idx ON ${ks}.address (userid)`,
    ],
  },
  {
    version: 8,
    description: 'Batch deletion jobs (job, slices leased to instances, per-user outcomes, shared pace budget) and the per-requester hourly deletion count',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_batch (
        id text PRIMARY KEY, createdby text, caller text, organisationids set<text>, mode text,
        total int, slices int, state text, createdat timestamp, updatedat timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_batch_open (id text PRIMARY KEY, createdat timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_batch_slice (
        jobid text, slice int, owner text, leaseuntil timestamp, done boolean, PRIMARY KEY (jobid, slice))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_batch_item (
        jobid text, slice int, userid text, status text, err text, attempts int, at timestamp,
        PRIMARY KEY (jobid, slice, userid))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_batch_pace (jobid text, second bigint, taken counter, PRIMARY KEY ((jobid, second)))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_requester_hourly (requester text, hour bigint, deleted counter, PRIMARY KEY ((requester, hour)))`,
    ],
  },
  {
    version: 9,
    description: "The relay's confirmation that a request's event is on the topic, apart from the step outcomes a run records in batches",
    statements: (ks) => [addColumn(ks, 'user_deletion_request', 'eventpublishedat', 'timestamp')],
  },
  {
    // The work lists: one partition per entry, deleted when done, scanned whole by the sweeper, the
    // event relay and the batch runner on every instance every few seconds. A scan reads every
    // deleted entry whose tombstone is kept: measured here, "SELECT … LIMIT 100" over 20,000 deleted
    // entries 46–88 ms, over 120,000 about 0.5 s, over live ones 6 ms; with the default 10 days a
    // bulk deletion would keep every relay pass that slow for 10 days. 3 hours is Cassandra's
    // max_hint_window default: a replica down for less gets the deletions it missed as hints. One
    // down longer and not repaired may bring an entry back, which is harmless: the relay unlists an
    // entry whose event is published, the batch runner a finished job again, and the sweeper a
    // finished request's. An sstable whose tombstones may go compacts on its own an hour after it
    // was written, without waiting for three others of its size. Spelled out here, not shared:
    // a released migration never changes.
    version: 10,
    description: 'The work-list tables keep the tombstones of their unlisted entries for 3 hours instead of 10 days, so their scans stay cheap after a bulk deletion',
    statements: (ks) =>
      ['user_deletion_request_open', 'user_deletion_event_outbox_pending', 'user_deletion_batch_open'].map(
        (table) =>
          `ALTER TABLE ${ks}.${table} WITH gc_grace_seconds = 10800 AND compaction = {'class': 'SizeTieredCompactionStrategy', 'unchecked_tombstone_compaction': 'true', 'tombstone_threshold': '0.2', 'tombstone_compaction_interval': '3600'}`,
      ),
  },
  {
    // A job's status read every user's outcome: about 11 ms of Cassandra CPU for a job of 1,000
    // (measured here), more than a deletion costs, on every poll of every follower.
    version: 11,
    description: "Each done batch slice keeps the counts of its users' outcomes, so a job's status reads its slices instead of every user",
    statements: (ks) => [
      addColumn(ks, 'user_deletion_batch_slice', 'succeeded', 'int'),
      addColumn(ks, 'user_deletion_batch_slice', 'failed', 'map<text, int>'),
      addColumn(ks, 'user_deletion_batch_slice', 'firstsettledat', 'timestamp'),
      addColumn(ks, 'user_deletion_batch_slice', 'lastsettledat', 'timestamp'),
    ],
  },
  {
    // The guard counted per clock hour, so a requester could delete the limit at 10:59 and again at
    // 11:00. Counts per minute, summed over the last 60, close that. One partition per requester and
    // hour, as before: a counter cannot expire. user_deletion_requester_hourly is no longer written;
    // while instances of both versions run, each counts apart (for at most an hour).
    version: 12,
    description: 'The mass-deletion guard counts per requester and minute, so its hour slides instead of starting again on the clock hour',
    statements: (ks) => [`CREATE TABLE IF NOT EXISTS ${ks}.user_deletion_requester_minutes (requester text, hour bigint, minute bigint, deleted counter, PRIMARY KEY ((requester, hour), minute))`],
  },
  {
    // A create whose row never applied (its answer lost, its settle cut short by a crash) left an
    // entry naming no request while its caller had been answered "accepted": the sweeper dropped it
    // and the user was never deleted. The entry now keeps what the request is created with (one JSON
    // value: a later write of the same id replaces it whole), so the sweeper creates it.
    version: 13,
    description: 'Each open deletion entry keeps what its request is created with, so the sweeper can create a request whose create never applied',
    statements: (ks) => [addColumn(ks, 'user_deletion_request_open', 'request', 'text')],
  },
  {
    // A cancel that Keycloak (or a crash) interrupted is finished by the sweeper, which knew no
    // caller: its `deletion.cancelled` record lacked `cancelledBy`, and the restored row named the
    // deleter as its updater. The cancel's caller is now recorded when it reopens the request.
    version: 14,
    description: 'A deletion request records whose cancel reopened it, so whichever run finishes the cancel audits that caller',
    statements: (ks) => [addColumn(ks, 'user_deletion_request', 'cancelledby', 'text')],
  },
  {
    // A job submitted by mistake (the wrong file, the wrong organisation) could not be stopped: its
    // users went on being deleted at the job's pace. Its cancel is kept apart from its state, which the
    // breaker rewrites, and a done slice counts the users the cancel spared.
    version: 15,
    description: 'A batch job records who cancelled it and when, and a done slice counts the users its cancel spared',
    statements: (ks) => [
      addColumn(ks, 'user_deletion_batch', 'cancelledat', 'timestamp'),
      addColumn(ks, 'user_deletion_batch', 'cancelledby', 'text'),
      addColumn(ks, 'user_deletion_batch_slice', 'cancelled', 'int'),
    ],
  },
  {
    // A batch read "deleted" for a user whose deletion still owed steps (the search engine or Redis
    // down: the request partial, retried until done), so a job reported to an authority hid them.
    version: 16,
    description: 'A batch user deleted with steps still owed is marked so, and a done slice counts them',
    statements: (ks) => [addColumn(ks, 'user_deletion_batch_item', 'owed', 'boolean'), addColumn(ks, 'user_deletion_batch_slice', 'owed', 'int')],
  },
  {
    // Sunbird's table has the column (its V1.106; 8.0 no longer writes it): a deletion blanks it in the rows that name the person as adder.
    version: 17,
    description: "user_organisation.addedbyname, the legacy copy of who added the user, as Sunbird's table has it",
    statements: (ks) => [addColumn(ks, 'user_organisation', 'addedbyname', 'text')],
  },
  {
    // Sunbird's table has them (its V1.33, V1.36, V1.113, V1.117), with these types; migration 1 did
    // not create them, so Sunbird's deletion, which blanks them, had no column to write in a keyspace
    // of this service's own. On Sunbird's keyspace each column is found there and nothing is sent.
    version: 18,
    description: "user.locationids, usertype, usersubtype and profileusertype, as Sunbird's table has them, so that Sunbird's deletion blanks them",
    statements: (ks) => [
      addColumn(ks, 'user', 'locationids', 'list<text>'),
      addColumn(ks, 'user', 'usertype', 'text'),
      addColumn(ks, 'user', 'usersubtype', 'text'),
      addColumn(ks, 'user', 'profileusertype', 'text'),
    ],
  },
]

export const currentSchemaVersion = Math.max(...migrations.map((m) => m.version))

type Replication = NonNullable<Config['cassandra']['replication']>

/** What a new keyspace gets when CASSANDRA_REPLICATION is not set: the `default` schemas/config.json documents. */
function defaultReplication(): Replication {
  const config = readSchemas().get('config') as unknown as { properties: { cassandra: { properties: { replication: { default: Replication } } } } }
  return config.properties.cassandra.properties.replication.default
}

function replicationCql(replication: Replication): string {
  const entries = Object.entries(replication).map(([key, value]) => `'${key.replace(/'/g, "''")}': '${String(value).replace(/'/g, "''")}'`)
  return `{${entries.join(', ')}}`
}

/** One spelling for comparing: short class name, every value a string (system_schema answers 'org.apache…SimpleStrategy', '1'). */
function normaliseReplication(replication: Readonly<Record<string, string | number>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(replication)
      .map(([key, value]): [string, string] => [key, key === 'class' ? String(value).replace(/^org\.apache\.cassandra\.locator\./, '') : String(value)])
      .sort(([a], [b]) => a.localeCompare(b)),
  )
}

/**
 * Whether the keyspace's stored replication is what is asked. NetworkTopologyStrategy with a bare
 * replication_factor is stored expanded to every datacenter by name, so it is compared that way.
 */
export function sameReplication(current: Readonly<Record<string, string | number>>, wanted: Readonly<Record<string, string | number>>): boolean {
  const stored = normaliseReplication(current)
  const asked = normaliseReplication(wanted)
  if (asked.class === 'NetworkTopologyStrategy' && asked.replication_factor !== undefined) {
    const rf = asked.replication_factor
    delete asked.replication_factor
    for (const dc of Object.keys(stored)) if (dc !== 'class' && asked[dc] === undefined) asked[dc] = rf
  }
  return JSON.stringify(stored) === JSON.stringify(normaliseReplication(asked))
}

/**
 * Creates the keyspace (with the configured replication, else the default), or brings an existing
 * keyspace's replication to the configured one, but only when one is configured: the default never
 * alters a keyspace that exists, which in production is Sunbird's own (a migrate run without
 * CASSANDRA_REPLICATION would otherwise take it to one replica). The log says what is due after an
 * alter: a repair so existing rows reach new replicas, then a cleanup where replicas were removed.
 */
export async function ensureKeyspace(client: Client, ks: string, configured: Replication | undefined, log: (line: string) => void): Promise<void> {
  // The statements below name the keyspace unquoted, so Cassandra stores it in lower case.
  const found = await client.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [ks.toLowerCase()])
  const current = found.rows[0]?.get('replication') as Record<string, string> | undefined
  if (!current) {
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replicationCql(configured ?? defaultReplication())}`)
    return
  }
  if (!configured || sameReplication(current, configured)) return
  await client.execute(`ALTER KEYSPACE ${ks} WITH replication = ${replicationCql(configured)}`)
  log(
    `replication of keyspace ${ks} changed from ${JSON.stringify(normaliseReplication(current))} to ${JSON.stringify(normaliseReplication(configured))}: ` +
      `a repair is due — run "nodetool repair -full ${ks}" on every node so the rows written before reach their new replicas; where replicas were removed, "nodetool cleanup ${ks}" then drops the copies no node owns any more`,
  )
}

/** How often a migration statement that Cassandra did not answer in time is sent before migrate gives up, and the pause before each repeat. */
const MIGRATION_ATTEMPTS = 3
const MIGRATION_RETRY_PAUSE_MS = 2000
/** How long migrate waits for every node to hold a schema change (beyond the driver's own 10 s) before it stops. */
const SCHEMA_AGREEMENT_WAIT_MS = 60_000
const SCHEMA_AGREEMENT_POLL_MS = 1000

/** A schema change (CREATE, ALTER, DROP), as against the version record. */
const isSchemaChange = (cql: string): boolean => /^\s*(CREATE|ALTER|DROP)\s/i.test(cql)

/**
 * Waits until every node holds the same schema. The next statement may go to any node: a table
 * created on one and created again (IF NOT EXISTS) on another that has not seen it yet gets two
 * table ids, a disagreement that lasts and loses writes.
 */
export async function awaitSchemaAgreement(client: Client, waitMs = SCHEMA_AGREEMENT_WAIT_MS): Promise<void> {
  // In the driver, untyped: compares system.local's and system.peers' schema versions on the control connection.
  const metadata = client.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> }
  const giveUpAt = Date.now() + waitMs
  while (!(await metadata.checkSchemaAgreement())) {
    if (Date.now() >= giveUpAt) {
      throw new DependencyUnavailableError('cassandra', {
        cause: new WordedCause(`the nodes did not agree on the schema within ${waitMs / 1000} s (see nodetool describecluster); run db:migrate again once they do`),
      })
    }
    await new Promise((resolve) => setTimeout(resolve, SCHEMA_AGREEMENT_POLL_MS))
  }
}

/**
 * Runs one statement of a migration, again when Cassandra did not answer in time: every one is
 * idempotent (IF NOT EXISTS, the version's own row; a column addition settles a repeat refused), and on a cluster that has just started a node
 * still warming up may miss a write's deadline (seen: the version record timing out at LOCAL_QUORUM
 * with one of two replicas acknowledged). A schema change is held by every node before the next
 * statement, and before it is sent again (the first copy may have applied on one node).
 */
async function executeMigrationStatement(client: Client, cql: string, params?: unknown[], options: { host?: Host } = {}): Promise<void> {
  const schemaChange = isSchemaChange(cql)
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await client.execute(cql, params, options.host ? { host: options.host } : undefined)
      // The driver has waited up to maxSchemaAgreementWaitSeconds already and says whether they agree.
      if (schemaChange && (result.info as { isSchemaInAgreement?: boolean }).isSchemaInAgreement === false) await awaitSchemaAgreement(client)
      return
    } catch (err) {
      if (attempt >= MIGRATION_ATTEMPTS || !isCassandraUnavailable(err)) throw err
      await new Promise((resolve) => setTimeout(resolve, MIGRATION_RETRY_PAUSE_MS))
      if (schemaChange) await awaitSchemaAgreement(client)
    }
  }
}

/** A step as sent: a statement as it is, a column only where the table lacks it. */
async function executeMigrationStep(client: Client, step: MigrationStep): Promise<void> {
  if (typeof step === 'string') return executeMigrationStatement(client, step)
  await addColumnIfMissing(client, step, { send: (cql) => executeMigrationStatement(client, cql), awaitSchemaAgreement: () => awaitSchemaAgreement(client) })
}

/** The CQL a step sends where it sends any: what must parse on every Cassandra the service supports (3.11 and later). */
export const migrationStepCql = (step: MigrationStep): string => (typeof step === 'string' ? step : columnAdditionCql(step))

/**
 * The node every run sends the lock table's creation to: the lowest address among the hosts of the
 * local datacenter that are up (the driver talks to no other). The one statement two runs may send
 * at the same time, before either holds the lock: two nodes creating the table at once would give
 * it two ids, while one node applies schema changes one at a time, so the second finds the table.
 * Undefined (the driver chooses) when no such host is known up.
 */
export function schemaCoordinator(client: Client, localDataCenter: string): Host | undefined {
  const up = client.hosts.values().filter((host) => host.isUp() && host.datacenter === localDataCenter)
  return up.sort((a, b) => a.address.localeCompare(b.address))[0]
}

export interface MigrateOptions {
  /** The migration lock's wait, TTL and polling (tests shorten them); MIGRATION_LOCK_DEFAULTS otherwise. */
  lock?: MigrationLockOptions
}

/**
 * Creates or adjusts the keyspace, then, under the migration lock (schema_migration_lock: one run
 * at a time, others wait), runs each migration not yet recorded in schema_version. Idempotent.
 */
export async function migrate(config: Config['cassandra'], log: (line: string) => void = () => {}, options: MigrateOptions = {}): Promise<number[]> {
  const ks = config.keyspace
  const client: Client = createCassandraClient(config, { keyspace: false })
  const ran: number[] = []
  try {
    await ensureKeyspace(client, ks, config.replication, log)
    await awaitSchemaAgreement(client)
    await executeMigrationStatement(client, migrationLockTableCql(ks), undefined, { host: schemaCoordinator(client, config.localDataCenter) })
    await awaitSchemaAgreement(client)
    const lock = await acquireMigrationLock(client, ks, log, options.lock)
    try {
      await executeMigrationStatement(client, `CREATE TABLE IF NOT EXISTS ${ks}.schema_version (version int PRIMARY KEY, description text, applied_at timestamp)`)
      const done = new Set((await client.execute(`SELECT version FROM ${ks}.schema_version`)).rows.map((row) => row.get('version') as number))
      for (const migration of migrations) {
        if (done.has(migration.version)) continue
        for (const step of migration.statements(ks)) {
          lock.assertHeld()
          await executeMigrationStep(client, step)
        }
        lock.assertHeld()
        await executeMigrationStatement(client, `INSERT INTO ${ks}.schema_version (version, description, applied_at) VALUES (?, ?, ?)`, [migration.version, migration.description, new Date()])
        ran.push(migration.version)
        log(`applied migration ${migration.version}: ${migration.description}`)
      }
      return ran
    } finally {
      await lock.release()
    }
  } finally {
    await client.shutdown()
  }
}

/** The highest applied version, 0 before the first migration, for readiness: the service refuses to call itself ready on an old schema. */
export async function appliedSchemaVersion(client: Client, keyspace: string): Promise<number> {
  try {
    const rows = (await client.execute(`SELECT version FROM ${keyspace}.schema_version`)).rows
    return rows.reduce((max, row) => Math.max(max, row.get('version') as number), 0)
  } catch (err) {
    // Cassandra answered that the keyspace or schema_version does not exist: no migration ran yet.
    if (err instanceof errors.ResponseError && err.code === types.responseErrorCodes.invalid) return 0
    throw err
  }
}
