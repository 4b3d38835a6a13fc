import { randomUUID } from 'node:crypto'
import type { Client as SearchClient } from '@opensearch-project/opensearch'
import { createClient } from '@redis/client'
import type { Client } from 'cassandra-driver'
import { NOTES_INDEX, USER_ALIAS } from '../../src/search/sunbird-indexes.js'
import type { Harness } from './harness.js'
import { LOCAL_REDIS, TEST_KEYSPACE } from './test-env.js'

/** A person's values as a Sunbird deployment spreads them: each unique to this person, so finding one anywhere is residue. */
export interface PersonValues {
  id: string
  firstName: string
  lastName: string
  username: string
  email: string
  phone: string
  dob: string
  declaredSchool: string
}

let serial = 0

export function newPerson(): PersonValues {
  const tag = randomUUID().replace(/-/g, '').slice(0, 10)
  serial++
  return {
    id: randomUUID(),
    firstName: `Ashwini${tag}`,
    lastName: `Kulkarni${tag}`,
    username: `ashwini_${tag}`,
    email: `ashwini.${tag}@example.org`,
    phone: `7${String(Date.now() % 1e6).padStart(6, '0')}${String(serial).padStart(3, '0')}`,
    dob: `19${10 + (Date.now() % 40)}-0${1 + (serial % 9)}-1${serial % 10}`,
    declaredSchool: `Vidya Niketan ${tag}`,
  }
}

/** Every personal value of the person (what must be gone wherever the mode erases). */
export const personalValues = (p: PersonValues) => [p.firstName, p.lastName, p.username, p.email, p.phone, p.dob, p.declaredSchool]

const q = (db: Client, cql: string, params: unknown[]) => db.execute(cql, params, { prepare: true })

/**
 * Seeds the person into every store: the five Sunbird tables (via the harness), the side tables,
 * the codes keyed by plain email and phone, the search document with Sunbird's fields and a note,
 * and the Redis user hash, as Sunbird's writers do.
 */
export async function seedEverywhere(h: Harness, search: SearchClient, p: PersonValues, org: string): Promise<void> {
  await h.seed({ id: p.id, firstName: p.firstName, lastName: p.lastName, username: p.username, email: p.email, phone: p.phone, dob: p.dob, rootOrgId: org, organisations: [org] })
  const db = h.db
  const ks = TEST_KEYSPACE
  const now = new Date()
  await q(db, `INSERT INTO ${ks}.user_declarations (userid, orgid, persona, status, userinfo, createdby, createdon) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
    p.id,
    org,
    'teacher',
    'SUBMITTED',
    { 'declared-email': p.email, 'declared-phone': p.phone, 'declared-school-name': p.declaredSchool, 'declared-school-udise-code': '27251000101' },
    p.id,
    now,
  ])
  await q(db, `INSERT INTO ${ks}.user_consent (id, user_id, consumer_id, consumer_type, object_id, object_type, status, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
    `usr-consent:${p.id}:${org}:${org}`,
    p.id,
    org,
    'ORGANISATION',
    org,
    'Organisation',
    'ACTIVE',
    now,
  ])
  const noteId = `note-${p.id}`
  await q(db, `INSERT INTO ${ks}.user_notes (id, userid, courseid, title, note, tags, createdby, createddate) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
    noteId,
    p.id,
    'course-1',
    `Notes of ${p.firstName}`,
    `${p.firstName} ${p.lastName} asked to call ${p.phone}`,
    ['maths'],
    p.id,
    now.toISOString(),
  ])
  await q(db, `INSERT INTO ${ks}.otp (type, key, otp, attemptedcount, createdon) VALUES (?, ?, ?, ?, ?) USING TTL 1800`, ['email', p.email, '482913', 0, now])
  await q(db, `INSERT INTO ${ks}.otp (type, key, otp, attemptedcount, createdon) VALUES (?, ?, ?, ?, ?) USING TTL 1800`, ['phone', p.phone, '771204', 1, now])
  await q(db, `INSERT INTO ${ks}.rate_limit (key, unit, rate, ttl) VALUES (?, ?, ?, ?) USING TTL 3600`, [p.email, 'HOUR', 1, 3600])
  await q(db, `INSERT INTO ${ks}.rate_limit (key, unit, rate, ttl) VALUES (?, ?, ?, ?) USING TTL 86400`, [p.phone, 'DAY', 2, 86400])
  await q(db, `INSERT INTO ${ks}.shadow_user (channel, userextid, name, email, phone, orgextid, userid, userids, userstatus, claimstatus, createdon) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    'demo',
    `SHADOW-${p.id}`,
    `${p.firstName} ${p.lastName}`,
    p.email,
    p.phone,
    'school-ext-1',
    p.id,
    [p.id],
    1,
    2,
    now,
  ])
  await q(db, `INSERT INTO ${ks}.user_feed (id, userid, category, priority, status, data, createdby, createdon) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
    `feed-${p.id}`,
    p.id,
    'orgMigrationAction',
    1,
    'unread',
    JSON.stringify({ prospectChannels: ['demo'], greeting: `Hello ${p.firstName}` }),
    p.id,
    now,
  ])
  await q(db, `INSERT INTO ${ks}.user_cert (id, userid, certid, store, accesscode, createdat) VALUES (?, ?, ?, ?, ?, ?)`, [
    `cert-${p.id}`,
    p.id,
    'cert-1',
    { pdfUrl: `https://certs.example.org/${p.username}.pdf`, recipientName: `${p.firstName} ${p.lastName}` },
    'K7Q2XZ',
    now,
  ])
  await q(db, `INSERT INTO ${ks}.address (id, userid, addressline1, city, state, zipcode, country, addtype, createddate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    `addr-${p.id}`,
    p.id,
    `12 ${p.lastName} Lane`,
    'Pune',
    'Maharashtra',
    '411001',
    'India',
    'permanent',
    now.toISOString(),
  ])
  await search.index({
    index: USER_ALIAS,
    id: p.id,
    refresh: true,
    body: {
      id: p.id,
      userId: p.id,
      identifier: p.id,
      firstName: p.firstName,
      lastName: p.lastName,
      userName: p.username,
      email: p.email,
      phone: p.phone,
      maskedEmail: `as****@example.org`,
      maskedPhone: `******${p.phone.slice(-4)}`,
      dob: p.dob,
      status: 1,
      isDeleted: false,
      rootOrgId: org,
      rootOrgName: 'Demo School',
      channel: 'demo',
      organisations: [{ organisationId: org, orgName: 'Demo School', roles: ['PUBLIC'], addedByName: `${p.firstName} ${p.lastName}` }],
      roles: [{ role: 'PUBLIC', scope: [{ organisationId: org }] }],
      framework: { board: ['CBSE'], gradeLevel: ['Class 5'], id: ['ekstep_ncert_k-12'] },
      profileLocation: [{ id: 'loc-1', type: 'state' }],
      profileDetails: { school: p.declaredSchool },
      createdDate: '2024-01-10 10:00:00:000+0000',
    },
  })
  await search.index({
    index: NOTES_INDEX,
    id: noteId,
    refresh: true,
    body: { id: noteId, identifier: noteId, userId: p.id, courseId: 'course-1', title: `Notes of ${p.firstName}`, note: `${p.firstName} asked to call ${p.phone}`, tags: ['maths'] },
  })
  const redis = createClient({ socket: { host: LOCAL_REDIS.host, port: LOCAL_REDIS.port }, database: 12 })
  await redis.connect()
  try {
    await redis.hSet(`user:${p.id}`, { userid: p.id, firstname: p.firstName, lastname: p.lastName, email: p.email, phone: p.phone, rootorgid: org, schoolname: p.declaredSchool })
  } finally {
    await redis.close()
  }
}

/** Where any of `values` is found: "<table>" for Cassandra (every table of the keyspace, scanned whole), "search:<index>", "redis:<key>". */
export async function findValues(db: Client, search: SearchClient, values: readonly string[]): Promise<string[]> {
  const found = new Set<string>()
  const holds = (text: string) => values.some((value) => text.includes(value))
  const tables = (await db.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [TEST_KEYSPACE], { prepare: true })).rows.map((row) => row.get('table_name') as string)
  for (const table of tables) {
    for await (const row of await db.execute(`SELECT * FROM ${TEST_KEYSPACE}.${table}`, [], { prepare: true, fetchSize: 500 })) {
      const text = JSON.stringify(row, (_key, value) => (value instanceof Map ? Object.fromEntries(value) : value instanceof Set ? [...value] : value))
      if (holds(text)) found.add(table)
    }
  }
  for (const index of [USER_ALIAS, NOTES_INDEX]) {
    // A search for each value, as Sunbird's user search would find it, and a scan of every stored source.
    for (const value of values) {
      const { body } = await search.search({ index, body: { query: { query_string: { query: `"${value}"`, lenient: true } }, size: 10 } })
      if (body.hits.hits.length > 0) found.add(`search:${index}`)
    }
    const { body } = await search.search({ index, body: { query: { match_all: {} }, size: 10_000 } })
    for (const hit of body.hits.hits) if (holds(JSON.stringify(hit._source))) found.add(`search:${index}`)
  }
  const redis = createClient({ socket: { host: LOCAL_REDIS.host, port: LOCAL_REDIS.port }, database: 12 })
  await redis.connect()
  try {
    for await (const keys of redis.scanIterator({ MATCH: 'user:*', COUNT: 500 })) {
      for (const key of keys) {
        if ((await redis.type(key)) !== 'hash') continue
        if (holds(JSON.stringify(await redis.hGetAll(key)))) found.add(`redis:${key}`)
      }
    }
  } finally {
    await redis.close()
  }
  return [...found].sort()
}
