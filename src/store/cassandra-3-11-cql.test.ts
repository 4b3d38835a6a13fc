import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../config/project-root.js'
import { migrationLockTableCql } from './migration-lock.js'
import { migrationStepCql, migrations } from './migrations.js'

/**
 * CQL that Cassandra 3.11 (Sunbird's) refuses: each spelling with the release that brought it. The
 * local servers run 5.0, which accepts all of them, so only this check keeps them out.
 */
const NEWER_THAN_3_11: readonly { syntax: string; since: string; pattern: RegExp }[] = [
  { syntax: 'ALTER TABLE … ADD IF NOT EXISTS', since: '4.1', pattern: /\bADD\s+IF\s+NOT\s+EXISTS\b/i },
  { syntax: 'ALTER TABLE … DROP IF EXISTS (a column)', since: '4.1', pattern: /\bALTER\s+TABLE\b[^`;]*\bDROP\s+IF\s+EXISTS\b/i },
  { syntax: 'ALTER … IF EXISTS', since: '4.1', pattern: /\bALTER\s+(TABLE|TYPE|MATERIALIZED\s+VIEW|KEYSPACE|ROLE|USER)\s+IF\s+EXISTS\b/i },
  { syntax: 'ALTER TABLE … RENAME IF EXISTS', since: '4.1', pattern: /\bRENAME\s+IF\s+EXISTS\b/i },
  { syntax: "storage-attached index (USING 'sai')", since: '5.0', pattern: /\bUSING\s+'(sai|StorageAttachedIndex)'|StorageAttachedIndex/i },
  { syntax: 'vector type', since: '5.0', pattern: /\bvector\s*</i },
  { syntax: 'dynamic data masking', since: '5.0', pattern: /\bMASKED\s+WITH\b/i },
  { syntax: 'maxwritetime / minwritetime', since: '5.0', pattern: /\b(max|min)writetime\s*\(/i },
  { syntax: 'CREATE TABLE … LIKE', since: '5.0', pattern: /\bCREATE\s+TABLE\b[^`;]*\bLIKE\b/i },
  { syntax: 'UnifiedCompactionStrategy', since: '5.0', pattern: /\bUnifiedCompactionStrategy\b/ },
  { syntax: 'memtable table option', since: '5.0', pattern: /\bmemtable\s*=/i },
  { syntax: 'read_repair / additional_write_policy table options', since: '4.0', pattern: /\b(read_repair|additional_write_policy)\s*=/i },
  { syntax: 'currentTimestamp() and the other current…() functions', since: '4.0', pattern: /\bcurrent(Timestamp|Date|Time|TimeUUID)\s*\(/i },
  { syntax: 'transactions (BEGIN TRANSACTION)', since: '5.1', pattern: /\bBEGIN\s+TRANSACTION\b/i },
]

const newerThan311 = (text: string): string[] => NEWER_THAN_3_11.filter(({ pattern }) => pattern.test(text)).map(({ syntax, since }) => `${syntax} (Cassandra ${since})`)

describe("CQL the service sends parses on Sunbird's Cassandra 3.11", () => {
  it('when db:migrate runs every migration, then no statement it may send uses syntax newer than 3.11', () => {
    const sent = [migrationLockTableCql('sunbird'), ...migrations.flatMap((migration) => migration.statements('sunbird').map((step) => `${migration.version}: ${migrationStepCql(step)}`))]

    expect(sent.map((cql) => ({ cql, newer: newerThan311(cql) })).filter(({ newer }) => newer.length > 0)).toEqual([])
  })

  it('when a source file of the service holds CQL, then it uses no syntax newer than 3.11 (the statements sent while serving and by the operator commands)', () => {
    const src = join(projectRoot, 'src')
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    expect(files.length).toBeGreaterThan(50)

    const found = files.flatMap((file) => newerThan311(readFileSync(join(src, file), 'utf8')).map((newer) => `${relative(projectRoot, join(src, file))}: ${newer}`))

    expect(found).toEqual([])
  })

  it('when a statement uses one of those spellings, then the check names it with the release that brought it', () => {
    expect(newerThan311('ALTER TABLE sunbird.user ADD IF NOT EXISTS usertype text')).toEqual(['ALTER TABLE … ADD IF NOT EXISTS (Cassandra 4.1)'])
    expect(newerThan311("CREATE INDEX IF NOT EXISTS i ON sunbird.user (managedby) USING 'sai'")).toEqual(["storage-attached index (USING 'sai') (Cassandra 5.0)"])
    expect(newerThan311('ALTER TABLE sunbird.user ADD usertype text')).toEqual([])
    expect(newerThan311('DROP TABLE IF EXISTS sunbird.identity_erasure_pending')).toEqual([])
  })
})
