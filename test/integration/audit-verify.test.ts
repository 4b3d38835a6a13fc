import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Client } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import type { AuditRecord } from '../../src/deletion/ports.js'
import { CassandraAuditReader, CassandraAuditTrail, chainHash, GENESIS } from '../../src/store/cassandra-audit-trail.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { undoTampering } from '../support/audit-tampering.js'
import { runAuditVerify } from '../support/audit-verify-cli.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

// The audit chains read back through the real driver's paging (a small fetch size, so a short chain
// spans pages of records and of anchors), and `npm run audit:verify` on the real Cassandra as a
// scheduled job runs it. Each test writes a chain of its own and verifies only that one: other tests
// tamper with theirs in the same keyspace. Tampering here is undone (undoTampering).

const TABLE = `${TEST_KEYSPACE}.user_deletion_audit`
const ANCHORS = `${TEST_KEYSPACE}.user_deletion_audit_anchor`
const PREPARED = { prepare: true }

let db: Client
beforeAll(async () => {
  db = createCassandraClient(testConfig().cassandra)
  await db.connect()
})
afterAll(async () => {
  await db?.shutdown()
})

const record = (requestId: string, i: number): AuditRecord => ({
  event: 'deletion.failed',
  requestId,
  userId: randomUUID(),
  requestedBy: randomUUID(),
  at: new Date().toISOString(),
  detail: { reason: `paging-${i}` },
})

/** A chain of its own with `n` records, anchored after each one. */
async function anchoredChain(n: number): Promise<{ trail: CassandraAuditTrail; chain: string }> {
  const trail = new CassandraAuditTrail(db, TEST_KEYSPACE)
  const requestId = `audit-verify-${randomUUID()}`
  for (let i = 0; i < n; i++) {
    await trail.append(record(requestId, i))
    await trail.anchor()
  }
  return { trail, chain: trail.currentChain }
}

/** Deletes the records of `chain` from `fromSeq` on (the chain's end cut off); answers the way back. */
async function cutFrom(chain: string, fromSeq: number): Promise<() => Promise<void>> {
  const rows = (await db.execute(`SELECT seq, at, record, prevhash, hash FROM ${TABLE} WHERE chain = ? AND seq >= ?`, [chain, fromSeq], PREPARED)).rows
  for (const row of rows) await db.execute(`DELETE FROM ${TABLE} WHERE chain = ? AND seq = ?`, [chain, row.get('seq')], PREPARED)
  const restore = `INSERT INTO ${TABLE} (chain, seq, at, record, prevhash, hash) VALUES (?, ?, ?, ?, ?, ?)`
  return async () => {
    for (const row of rows) await undoTampering(db, restore, [chain, row.get('seq'), row.get('at'), row.get('record'), row.get('prevhash'), row.get('hash')])
  }
}

/**
 * Rewrites `chain` as someone who can write to the keyspace would: record `seq` gets another text,
 * and every hash from it on, and every anchor, is recomputed so the chain reads intact. Answers the way back.
 */
async function rewriteWithHashesAndAnchors(chain: string, seq: number, text: string): Promise<() => Promise<void>> {
  const records = (await db.execute(`SELECT seq, at, record, prevhash, hash FROM ${TABLE} WHERE chain = ?`, [chain], PREPARED)).rows
  const anchors = (await db.execute(`SELECT seq, hash, at FROM ${ANCHORS} WHERE chain = ?`, [chain], PREPARED)).rows
  const rewritten = new Map<number, string>()
  let prev = GENESIS
  for (const row of records) {
    const at = Number(row.get('seq'))
    const recordText = at === seq ? text : (row.get('record') as string)
    const hash = chainHash(prev, at, recordText)
    await db.execute(`UPDATE ${TABLE} SET record = ?, prevhash = ?, hash = ? WHERE chain = ? AND seq = ?`, [recordText, prev, hash, chain, row.get('seq')], PREPARED)
    rewritten.set(at, hash)
    prev = hash
  }
  for (const row of anchors) await db.execute(`UPDATE ${ANCHORS} SET hash = ? WHERE chain = ? AND seq = ?`, [rewritten.get(Number(row.get('seq'))), chain, row.get('seq')], PREPARED)
  return async () => {
    for (const row of records) {
      await undoTampering(db, `UPDATE ${TABLE} SET record = ?, prevhash = ?, hash = ? WHERE chain = ? AND seq = ?`, [row.get('record'), row.get('prevhash'), row.get('hash'), chain, row.get('seq')])
    }
    for (const row of anchors) await undoTampering(db, `UPDATE ${ANCHORS} SET hash = ? WHERE chain = ? AND seq = ?`, [row.get('hash'), chain, row.get('seq')])
  }
}

describe("CassandraAuditReader through the driver's paging", () => {
  it('when a chain spans several pages of records and of anchors, then every page is read: it verifies whole, and a cut below its newest anchor fails at the first missing record', async () => {
    // Arrange: 25 records anchored one by one, read 4 rows a page (7 pages of each).
    const { chain } = await anchoredChain(25)
    const reader = new CassandraAuditReader(db, TEST_KEYSPACE, { fetchSize: 4 })
    expect(await reader.verify({ chains: [chain] })).toMatchObject({ ok: true, records: 25, chains: 1, heads: { [chain]: { seq: 25 } } })

    // Act
    const undo = await cutFrom(chain, 23)
    try {
      // Assert
      expect(await reader.verify({ chains: [chain] })).toEqual({ ok: false, records: 22, chains: 1, chain, brokenAt: 23 })
    } finally {
      await undo()
    }
    expect(await reader.verify({ chains: [chain] })).toMatchObject({ ok: true, records: 25 })
  })

  it('when records are appended and anchored while a walk reads its pages, then the walk passes on what it read', async () => {
    // Arrange: 10 records anchored one by one, read 2 rows a page.
    const { trail, chain } = await anchoredChain(10)
    const requestId = `audit-verify-${randomUUID()}`
    const reader = new CassandraAuditReader(db, TEST_KEYSPACE, { fetchSize: 2 })

    // Act: 10 more records, each anchored, while the walk goes on.
    const [verdict] = await Promise.all([
      reader.verify({ chains: [chain] }),
      (async () => {
        for (let i = 0; i < 10; i++) {
          await trail.append(record(requestId, i))
          await trail.anchor()
        }
      })(),
    ])

    // Assert
    expect(trail.currentChain).toBe(chain)
    expect(verdict).toMatchObject({ ok: true, chains: 1 })
    expect(verdict.records).toBeGreaterThanOrEqual(10)
    expect(await reader.verify({ chains: [chain] })).toMatchObject({ ok: true, records: 20, chains: 1 })
  })
})

describe('npm run audit:verify on the real Cassandra', () => {
  /** What a scheduled job on a production host has: NODE_ENV=production, the Cassandra settings, no receipt key, no API consumers file. */
  const cronEnv = {
    NODE_ENV: 'production',
    NODE_CONFIG_ENV: undefined,
    CASSANDRA_KEYSPACE: TEST_KEYSPACE,
    DELETION_RECEIPT_HASH_KEY: undefined,
    API_BEARER_CONSUMERS_FILE: join(projectRoot, 'no-such-dir', 'api-consumers.json'),
  }

  it('when run as a scheduled job (production, shipped receipt key, no consumers file) on an intact chain, then it prints the verdict and exits 0', async () => {
    const { chain } = await anchoredChain(3)

    const run = await runAuditVerify(['--chain', chain], cronEnv)

    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({ ok: true, records: 3, chains: 1, heads: { [chain]: { seq: 3, hash: expect.stringMatching(/^[0-9a-f]{64}$/) } } })
  }, 60_000)

  it('when a chain is rewritten with its hashes and anchors recomputed, then a run against an earlier verdict (kept outside the cluster) exits 1 naming the chain, where a run without it passes', async () => {
    const { chain } = await anchoredChain(3)
    const earlier = await runAuditVerify(['--chain', chain], cronEnv)
    const kept = join(mkdtempSync(join(tmpdir(), 'audit-verdict-')), 'verdict.json')
    writeFileSync(kept, earlier.stdout)

    const undo = await rewriteWithHashesAndAnchors(chain, 2, JSON.stringify({ event: 'deletion.completed' }))
    let alone: Awaited<ReturnType<typeof runAuditVerify>>
    let against: Awaited<ReturnType<typeof runAuditVerify>>
    try {
      alone = await runAuditVerify(['--chain', chain], cronEnv)
      against = await runAuditVerify(['--chain', chain, '--against', kept], cronEnv)
    } finally {
      await undo()
    }

    expect(earlier.code).toBe(0)
    expect(alone.code).toBe(0)
    expect(against.code).toBe(1)
    expect(JSON.parse(against.stdout)).toEqual({ ok: false, records: 2, chains: 1, chain, brokenAt: 3 })
  }, 60_000)

  it('when --against names a file that is not a verdict, then it exits 2 with one line that shows none of the file, before Cassandra is asked', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'audit-verdict-')), 'notes.txt')
    writeFileSync(file, 'someone@example.org')

    const run = await runAuditVerify(['--against', file], cronEnv)

    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain('audit:verify: --against: not a verdict of audit:verify (JSON)')
    expect(run.stderr).not.toContain('someone@example.org')
  }, 60_000)

  it('when the chain named was cut below its anchor, then it exits 1 naming the chain and the first missing record', async () => {
    const { chain } = await anchoredChain(3)

    const undo = await cutFrom(chain, 2)
    let run: Awaited<ReturnType<typeof runAuditVerify>>
    try {
      run = await runAuditVerify(['--chain', chain], cronEnv)
    } finally {
      await undo()
    }

    expect(run.code).toBe(1)
    expect(JSON.parse(run.stdout)).toEqual({ ok: false, records: 1, chains: 1, chain, brokenAt: 2 })
  }, 60_000)

  it('when a chain named has neither a record nor an anchor (a mistyped id), then there is no verdict: exit 2 with one line that does not repeat the id, even beside an intact chain', async () => {
    const { chain } = await anchoredChain(2)

    const run = await runAuditVerify(['--chain', chain, '--chain', 'someone@example.org'], cronEnv)

    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr.trim().split('\n')).toEqual(['audit:verify: 1 of the chains named has neither a record nor an anchor: check the ids (without --chain, every chain is walked)'])
  }, 60_000)

  it('when --chain is given an empty id, then it exits 2 with the usage, before Cassandra is asked', async () => {
    const run = await runAuditVerify(['--chain', ''], cronEnv)

    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain('usage: npm run audit:verify')
    expect(run.stderr).not.toMatch(/ResponseError|Key may not be empty/)
  }, 60_000)

  it('when the keyspace does not exist, then there is no verdict: exit 2 with one line, no stack trace', async () => {
    const run = await runAuditVerify([], { ...cronEnv, CASSANDRA_KEYSPACE: 'no_such_keyspace_audit' })

    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^audit:verify: could not verify: /)])
  }, 60_000)
})
