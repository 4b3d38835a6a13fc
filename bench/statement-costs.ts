// `npx tsx bench/statement-costs.ts`: Cassandra CPU (utime + stime of the listener on the CQL port) per
// execution of each statement group of one deletion (bench/raw-delete-sequence.ts), and of B and S whole.
// Says which of B's statements no group measures, so the groups follow the workflow.
// Env: BENCH_KEYSPACE (default sunbird_bench; migrated, never truncated), COSTS_REPS (2), COSTS_CONCURRENCY (32),
// COSTS_GROUPS (comma list of group-name prefixes to run; default all), COSTS_COUNT=0 skips the row counts.
// Run it alone (2 cores): it seeds ~2,000 users into the keyspace and takes a few minutes.
import { randomUUID } from 'node:crypto'
import { types } from 'cassandra-driver'
import { loadConfig } from '../src/config/load-config.js'
import { formatSunbirdTimestamp } from '../src/shared/sunbird-timestamp.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { migrate } from '../src/store/migrations.js'
import { seedUsers } from './fixtures.js'
import { cpuMs, listenerPid } from './processes.js'
import { AuditChain, CONTACT_COLUMNS, rawDeleteSequence, receiptText, SCRUBBED_COLUMNS, sendTogether } from './raw-delete-sequence.js'
import { recordStatements } from './statement-recorder.js'
import { sunbirdDeleteSequence } from './sunbird-delete-sequence.js'

const keyspace = process.env.BENCH_KEYSPACE || 'sunbird_bench'
if (!/^[a-z][a-z0-9_]{0,47}$/.test(keyspace) || keyspace === 'sunbird' || keyspace.startsWith('sunbird_test')) throw new Error(`refusing keyspace ${keyspace}`)
const reps = Number(process.env.COSTS_REPS ?? '2')
const concurrency = Number(process.env.COSTS_CONCURRENCY ?? '32')
const only = (process.env.COSTS_GROUPS ?? '').split(',').filter(Boolean)
const ks = keyspace
const log = (m: string) => process.stderr.write(`${m}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const idempotent = { prepare: true, isIdempotent: true }
const lwt = { prepare: true }

async function pool(n: number, c: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await fn(i)
  }
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker))
}

interface Row {
  group: string
  rep: number
  n: number
  usPerExec: number
  cpuMs: number
  seconds: number
}
const results: Row[] = []
/** Every statement the groups ran (whitespace collapsed, a batch's as `BATCH <cql>`). */
const measuredCql = new Set<string>()

async function main(): Promise<void> {
  const config = loadConfig({ cassandra: { keyspace }, logging: { level: 'silent' } } as never)
  await migrate(config.cassandra)
  const db = createCassandraClient(config.cassandra, { keyspace: false })
  await db.connect()
  const pid = listenerPid(config.cassandra.port)
  if (!pid) throw new Error('no Cassandra listener pid')
  const run = (cql: string, params: unknown[], options: object = idempotent) => db.execute(cql, params, options)

  // Idle CPU of Cassandra (compaction, GC, gossip): subtracted pro rata from every measurement.
  const i0 = cpuMs(pid)
  const it0 = Date.now()
  await sleep(4000)
  const idleMsPerSec = (cpuMs(pid) - i0) / ((Date.now() - it0) / 1000)
  log(`cassandra pid ${pid}; idle ${idleMsPerSec.toFixed(1)} ms CPU/s; keyspace ${ks}`)

  // Row counts of the tables read by index (live rows; tombstones are not counted). Key columns only, small
  // pages, client-side count: a server-side COUNT(*) pages through whole rows 5,000 at a time, and on
  // user_deletion_request (9.7 KB receipts) that ran a 512 MB Cassandra heap out of memory (it exited).
  // The request/audit/outbox tables are not counted at all.
  const counts: Record<string, number> = {}
  const keyOf: Record<string, string> = {
    user: 'id',
    user_lookup: 'type',
    usr_external_identity: 'provider',
    user_roles: 'userid',
    user_notes: 'id',
    shadow_user: 'channel',
    user_feed: 'id',
    user_cert: 'id',
    address: 'id',
    otp: 'type',
    rate_limit: 'key',
  }
  if (process.env.COSTS_COUNT !== '0')
    for (const [t, key] of Object.entries(keyOf)) {
      try {
        counts[t] = await new Promise<number>((resolve, reject) => {
          let n = 0
          db.eachRow(
            `SELECT ${key} FROM ${ks}.${t}`,
            [],
            { prepare: true, fetchSize: 500, readTimeout: 60_000, autoPage: true },
            () => n++,
            (err) => (err ? reject(err) : resolve(n)),
          )
        })
      } catch (err) {
        counts[t] = -1
        log(`count ${t}: ${(err as Error).message}`)
      }
    }
  log(`rows: ${JSON.stringify(counts)}`)

  /** Runs fn n times (c at a time) after `warm` unmeasured runs; µs of Cassandra CPU per execution, idle subtracted. */
  async function measure(group: string, rep: number, n: number, fn: (i: number) => Promise<unknown>, opts: { c?: number; warm?: number } = {}): Promise<void> {
    if (only.length && !only.some((p) => group.startsWith(p))) return
    const warm = opts.warm ?? 20
    // The first warm-up run is recorded: the statements of the groups (not of the whole
    // sequences), to check them against B's below.
    if (group.startsWith('9')) await fn(n)
    else for (const statement of await recordStatements(() => fn(n))) measuredCql.add(statement.cql)
    await pool(warm - 1, opts.c ?? concurrency, (i) => fn(n + 1 + i))
    await sleep(300)
    const c0 = cpuMs(pid as number)
    const t0 = process.hrtime.bigint()
    await pool(n, opts.c ?? concurrency, fn)
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    await sleep(250) // let in-flight background work (e.g. Paxos commit, hints) land
    const used = cpuMs(pid as number) - c0 - idleMsPerSec * (seconds + 0.25)
    const row = { group, rep, n, usPerExec: Math.round((used * 1000) / n), cpuMs: Math.round(used), seconds: Math.round(seconds * 100) / 100 }
    results.push(row)
    log(`${group.padEnd(34)} rep ${rep}  n ${String(n).padStart(5)}  ${String(row.usPerExec).padStart(6)} µs/exec  (${row.cpuMs} ms CPU in ${row.seconds} s)`)
  }

  const N = 400
  const NB = 250
  // Users read by the read groups (live, PUBLIC, three lookups, one role), seeded once.
  log('seeding read users')
  const readers = await seedUsers(db, ks, N + 40)
  const contactsOf: string[][] = []
  for (const id of readers.slice(0, 200)) {
    const r = (await run(`SELECT ${CONTACT_COLUMNS.join(', ')} FROM ${ks}.user WHERE id = ?`, [id])).first()
    contactsOf.push([...new Set(CONTACT_COLUMNS.map((c) => r?.get(c) as string).filter(Boolean))])
  }
  const contactsFor = (i: number) => contactsOf[i % contactsOf.length] as string[]
  const u = (i: number) => readers[i % readers.length] as string
  const eventPayload = JSON.stringify({
    eid: 'BE_JOB_REQUEST',
    ets: Date.now(),
    mid: `LP.${Date.now()}.${randomUUID()}`,
    actor: { id: 'Sunbird LMS Flink Job', type: 'System' },
    context: { pdata: { id: 'org.sunbird.platform', ver: '1.0' }, cdata: { id: randomUUID(), type: 'Request' } },
    object: { id: randomUUID(), type: 'user' },
    edata: { organisationId: null, userId: randomUUID(), suggested_users: [], managed_users: [], action: 'delete-user', iteration: 1 },
  })
  // The outcomes as B writes them: one at the lock's checkpoint, 14 at the one before the profile
  // scrub, 5 with the finish; the receipt B builds for its stores.
  const outcome = JSON.stringify({ status: 'done', action: 'deleted', at: new Date().toISOString(), count: 0 })
  const outcomes = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, k) => [`step${k}`, outcome]))
  const receiptStores = [
    'user (status)',
    'otp',
    'rate_limit',
    'user_lookup',
    'usr_external_identity',
    'user_organisation',
    'user_declarations',
    'user_notes',
    'shadow_user',
    'user_feed',
    'user_cert',
    'address',
    'user (profile)',
  ]
  const receipt = receiptText(randomUUID(), randomUUID(), [
    { store: 'keycloak', action: 'absent' },
    ...receiptStores.map((t) => ({ store: `cassandra.${t}`, action: 'deleted', count: 0 })),
    { store: 'kafka (delete.user topic)', action: 'queued' },
  ])
  log(`receipt ${receipt.length} chars`)
  const finishGroup = `08b-finish, 5 outcomes + receipt (${(receipt.length / 1024).toFixed(1)} KB)`

  for (let rep = 1; rep <= reps; rep++) {
    // consumed per rep: fresh users for the lock, B and S
    const lockUsers = only.length && !only.some((p) => p.startsWith('03') || p.startsWith('07')) ? [] : await seedUsers(db, ks, N + 20)
    const wantB = !only.length || only.some((p) => p.startsWith('9'))
    const bUsers = wantB ? await seedUsers(db, ks, NB + 20) : []
    const sUsers = wantB ? await seedUsers(db, ks, NB + 20) : []
    await sleep(1000)

    await measure('01-user read (findUser)', rep, N * 5, (i) => run(`SELECT id, status, isdeleted, rootorgid, managedby FROM ${ks}.user WHERE id = ?`, [u(i)]))
    await measure('01b-user read (contacts)', rep, N * 5, (i) => run(`SELECT ${CONTACT_COLUMNS.join(', ')} FROM ${ks}.user WHERE id = ?`, [u(i)]))
    await measure('01c-user_roles by userid (pk)', rep, N * 5, (i) => run(`SELECT role FROM ${ks}.user_roles WHERE userid = ?`, [u(i)]))
    await measure('01d-user_organisation by userid', rep, N * 5, (i) => run(`SELECT organisationid, isdeleted FROM ${ks}.user_organisation WHERE userid = ?`, [u(i)]))
    await measure('01e-user_declarations by userid', rep, N * 5, (i) => run(`SELECT userid FROM ${ks}.user_declarations WHERE userid = ?`, [u(i)]))

    // 02: the request listed open, then created (a plain insert: an id the service generated); the ids are kept for 05 and 08.
    const requestIds = Array.from({ length: N + 20 }, () => randomUUID())
    await measure('02a-request_open insert', rep, N, (i) => {
      const now = new Date()
      // The entry keeps what the request is created with, as one JSON value.
      const kept = JSON.stringify({ userId: u(i), createdAt: now.toISOString(), requestedBy: u(i), plan: 'sunbird', target: { rootOrgId: null, managedBy: null, organisationIds: [] } })
      return run(`INSERT INTO ${ks}.user_deletion_request_open (id, userid, createdat, request) VALUES (?, ?, ?, ?)`, [requestIds[i], u(i), now, kept])
    })
    await measure('02-request create (plain insert)', rep, N, (i) => {
      const now = new Date()
      return run(
        `INSERT INTO ${ks}.user_deletion_request (id, userid, requestedby, state, plan, eraseplan, eraseat, rootorgid, managedby, organisationids, leaseuntil, createdat, updatedat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [requestIds[i], u(i), u(i), 'accepted', types.unset, types.unset, types.unset, null, null, [], new Date(now.getTime() + 30_000), now, now],
      )
    })
    if (lockUsers.length)
      await measure('03-lock LWT (user row)', rep, N, async (i) => {
        const r = await run(
          `UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ? WHERE id = ? IF status = ? AND isdeleted = ?`,
          [lockUsers[i], formatSunbirdTimestamp(new Date()), lockUsers[i], 1, false],
          lwt,
        )
        if (!r.wasApplied()) throw new Error('lock not applied')
      })
    await measure('04-outbox entry + pending (one unlogged batch)', rep, N, (i) => {
      const queuedAt = new Date()
      return sendTogether(db, [
        {
          query: `INSERT INTO ${ks}.user_deletion_event_outbox (requestid, mid, userid, payload, createdat) VALUES (?, ?, ?, ?, ?)`,
          params: [requestIds[i], `LP.${Date.now()}.${randomUUID()}`, u(i), eventPayload, queuedAt],
        },
        { query: `INSERT INTO ${ks}.user_deletion_event_outbox_pending (requestid, createdat) VALUES (?, ?)`, params: [requestIds[i], queuedAt] },
      ])
    })
    const checkpoint = (id: string, steps: Record<string, string>) =>
      run(`UPDATE ${ks}.user_deletion_request SET steps = steps + ?, state = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`, [steps, 'in_progress', new Date(Date.now() + 30_000), new Date(), id])
    await measure('05a-checkpoint, 1 outcome (the lock)', rep, N, (i) => checkpoint(requestIds[i] as string, outcomes(1)))
    await measure('05b-checkpoint, 14 outcomes (before the scrub)', rep, N, (i) => checkpoint(requestIds[i] as string, outcomes(14)))
    const chain = new AuditChain(db, ks)
    await measure('08a-audit append (chained)', rep, N, (i) =>
      chain.append({ event: 'deletion.accepted', requestId: requestIds[i] as string, userId: u(i), requestedBy: u(i), at: new Date().toISOString() }),
    )
    await measure(finishGroup, rep, N, (i) =>
      run(`UPDATE ${ks}.user_deletion_request SET steps = steps + ?, state = ?, reason = ?, receipt = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`, [
        outcomes(5),
        'completed',
        null,
        receipt,
        new Date(0),
        new Date(),
        requestIds[i],
      ]),
    )
    await measure('08c-request_open delete', rep, N, (i) => run(`DELETE FROM ${ks}.user_deletion_request_open WHERE id = ?`, [requestIds[i]]))

    // 06: secondary-index reads by userid (and managedby).
    for (const [table, cols] of [
      ['user_lookup', 'type, value'],
      ['usr_external_identity', 'provider, idtype, externalid'],
      ['user_notes', 'id'],
      ['shadow_user', 'channel, userextid'],
      ['user_feed', 'id'],
      ['user_cert', 'id'],
      ['address', 'id'],
    ] as const)
      await measure(`06-index ${table} by userid`, rep, N * 2, (i) => run(`SELECT ${cols} FROM ${ks}.${table} WHERE userid = ?`, [u(i)]))
    await measure('06-index user by managedby', rep, N * 2, (i) => run(`SELECT id FROM ${ks}.user WHERE managedby = ?`, [u(i)]))
    await measure('06b-user_lookup deletes, 3 in one unlogged batch', rep, N, (i) =>
      sendTogether(
        db,
        ['email', 'phone', 'username'].map((type) => ({ query: `DELETE FROM ${ks}.user_lookup WHERE type = ? AND value = ?`, params: [type, `nobody-${rep}-${i}`] })),
      ),
    )

    // 07: otp and rate_limit looked up by the users' contacts, one IN read each (no codes: empty results, as in B).
    await measure('07a-otp read (type IN, key IN)', rep, N * 5, (i) => run(`SELECT type, key FROM ${ks}.otp WHERE type IN ? AND key IN ?`, [['email', 'phone'], contactsFor(i)]))
    await measure('07b-rate_limit read (key IN)', rep, N * 5, (i) => run(`SELECT key, unit FROM ${ks}.rate_limit WHERE key IN ?`, [contactsFor(i)]))

    // 07c: the profile scrub (plain UPDATE of the user row) on the lock users (already locked).
    const scrub = SCRUBBED_COLUMNS.map(([column]) => `${column} = ?`).join(', ')
    if (lockUsers.length)
      await measure('07c-profile scrub UPDATE', rep, N, (i) =>
        run(`UPDATE ${ks}.user SET status = 2, isdeleted = true, updatedby = ?, updateddate = ?, ${scrub} WHERE id = ?`, [
          lockUsers[i],
          formatSunbirdTimestamp(new Date()),
          ...SCRUBBED_COLUMNS.map(([, value]) => value),
          lockUsers[i],
        ]),
      )

    // 09: whole deletions.
    if (wantB) {
      const audit = new AuditChain(db, ks)
      await measure('9B-rawDeleteSequence (per deletion)', rep, NB, (i) => rawDeleteSequence(db, ks, bUsers[i] as string, audit), { warm: 10 })
      await measure('9S-sunbirdDeleteSequence (per deletion)', rep, NB, (i) => sunbirdDeleteSequence(db, ks, sUsers[i] as string), { warm: 10 })
    }
  }
  // Requests per deletion in B (a bench-seeded PUBLIC user: 6 contact values, 3 lookups, nothing else): 29.
  const perDeletion: Record<string, number> = {
    '01-user read (findUser)': 2,
    '01b-user read (contacts)': 1,
    '01c-user_roles by userid (pk)': 1,
    '01d-user_organisation by userid': 2,
    '01e-user_declarations by userid': 1,
    '02a-request_open insert': 1,
    '02-request create (plain insert)': 1,
    '03-lock LWT (user row)': 1,
    '04-outbox entry + pending (one unlogged batch)': 1,
    '05a-checkpoint, 1 outcome (the lock)': 1,
    '05b-checkpoint, 14 outcomes (before the scrub)': 1,
    '08a-audit append (chained)': 2,
    [finishGroup]: 1,
    '08c-request_open delete': 1,
    '06-index user_lookup by userid': 1,
    '06-index usr_external_identity by userid': 1,
    '06-index user_notes by userid': 1,
    '06-index shadow_user by userid': 1,
    '06-index user_feed by userid': 1,
    '06-index user_cert by userid': 1,
    '06-index address by userid': 1,
    '06-index user by managedby': 1,
    '06b-user_lookup deletes, 3 in one unlogged batch': 1,
    '07a-otp read (type IN, key IN)': 1,
    '07b-rate_limit read (key IN)': 1,
    '07c-profile scrub UPDATE': 1,
  }
  const requestsPerDeletion = Object.values(perDeletion).reduce((a, b) => a + b, 0)
  // Whether the groups still are B's statements: B changes with the workflow, and a group list that
  // no longer matches it would price a deletion that does not exist any more.
  const [coverageUser] = await seedUsers(db, ks, 1)
  const bCql = new Set((await recordStatements(() => rawDeleteSequence(db, ks, coverageUser as string, new AuditChain(db, ks)))).map((statement) => statement.cql))
  const unmeasured = [...bCql].filter((cql) => !measuredCql.has(cql))
  const notInB = [...measuredCql].filter((cql) => !bCql.has(cql))
  if (!only.length) {
    log(unmeasured.length ? `B's statements no group measures (update the groups):\n  ${unmeasured.join('\n  ')}` : 'every statement of B is measured by a group')
    if (notInB.length) log(`groups' statements B does not issue:\n  ${notInB.join('\n  ')}`)
  }
  const groups = [...new Set(results.map((r) => r.group))]
  let sum = 0
  const lines = ['group | µs/exec (each rep) | execs/deletion | µs/deletion (mean)', '--- | --- | --- | ---']
  for (const g of groups) {
    const us = results.filter((r) => r.group === g).map((r) => r.usPerExec)
    const mean = us.reduce((a, b) => a + b, 0) / us.length
    const per = perDeletion[g]
    if (per) sum += mean * per
    lines.push(`${g} | ${us.join(' / ')} | ${per ?? (g.startsWith('9') ? '(whole)' : '-')} | ${per ? Math.round(mean * per) : g.startsWith('9') ? Math.round(mean) : '-'}`)
  }
  lines.push(`sum of the groups (B's ${requestsPerDeletion} requests) | | ${requestsPerDeletion} | ${Math.round(sum)}`)
  console.log(lines.join('\n'))
  console.log(JSON.stringify({ keyspace: ks, idleMsPerSec, counts, results }))
  await db.shutdown()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
