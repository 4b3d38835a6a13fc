import { createHash } from 'node:crypto'
import type { Client } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import type { AuditRecord } from '../deletion/ports.js'
import { CassandraAuditTrail, type ChainLink, chainHash, GENESIS, verifyChain } from './cassandra-audit-trail.js'
const RECORD = JSON.stringify({ event: 'deletion.accepted', requestId: 'req-1', userId: 'user-1', requestedBy: 'user-1', at: '2024-05-20T10:08:56.812Z' })

describe('chainHash', () => {
  it('when called twice with the same inputs, then the same 64-hex-digit hash is answered', () => {
    const first = chainHash(GENESIS, 1, RECORD)

    expect(chainHash(GENESIS, 1, RECORD)).toBe(first)
    expect(first).toMatch(/^[0-9a-f]{64}$/)
  })

  it('when the hash is computed, then it is sha256 over prevHash, seq and the record text, one per line', () => {
    expect(chainHash(GENESIS, 1, RECORD)).toBe(createHash('sha256').update(`${GENESIS}\n1\n${RECORD}`).digest('hex'))
  })

  it('when prevHash changes, then the hash changes', () => {
    expect(chainHash('1'.repeat(64), 1, RECORD)).not.toBe(chainHash(GENESIS, 1, RECORD))
  })

  it('when seq changes, then the hash changes', () => {
    expect(chainHash(GENESIS, 2, RECORD)).not.toBe(chainHash(GENESIS, 1, RECORD))
  })

  it('when one character of the record changes, then the hash changes', () => {
    expect(chainHash(GENESIS, 1, RECORD.replace('accepted', 'completed'))).not.toBe(chainHash(GENESIS, 1, RECORD))
  })

  it('when an early record is altered, then every later hash of the chain changes', () => {
    // Arrange: a chain of three records, and the same chain with the first record altered.
    const records = ['a', 'b', 'c']
    const chain = (texts: string[]) => {
      let prev = GENESIS
      return texts.map((text, i) => (prev = chainHash(prev, i + 1, text)))
    }

    // Act
    const original = chain(records)
    const tampered = chain(['a!', 'b', 'c'])

    // Assert
    expect(tampered.map((hash, i) => hash === original[i])).toEqual([false, false, false])
  })
})

/** A driver stand-in recording every statement: the adapter's writes are checked for reads and lightweight transactions. */
function recordingClient(options: { failWrites?: number } = {}) {
  const statements: { cql: string; params: unknown[] }[] = []
  const batches: number[] = []
  let failures = options.failWrites ?? 0
  const maybeFail = async () => {
    await new Promise((resolve) => setTimeout(resolve, 2))
    if (failures > 0) {
      failures--
      throw new Error('write failed')
    }
  }
  const client = {
    execute: async (cql: string, params: unknown[] = []) => {
      statements.push({ cql, params })
      await maybeFail()
      return { rows: [], wasApplied: () => true, async *[Symbol.asyncIterator]() {} }
    },
    batch: async (queries: { query: string; params: unknown[] }[]) => {
      batches.push(queries.length)
      for (const q of queries) statements.push({ cql: q.query, params: q.params })
      await maybeFail()
      return {}
    },
  }
  return { client: client as unknown as Client, statements, batches }
}

const auditRecord = (i: number): AuditRecord => ({ event: 'deletion.accepted', requestId: `req-${i}`, userId: `user-${i}`, requestedBy: `user-${i}`, at: '2024-05-20T10:08:56.812Z' })

describe('CassandraAuditTrail appends', () => {
  it('when records are appended, then each is a plain insert (no read, no lightweight transaction) chained to the one before in memory', async () => {
    const { client, statements } = recordingClient()
    const trail = new CassandraAuditTrail(client, 'ks')

    for (let i = 1; i <= 3; i++) await trail.append(auditRecord(i))

    expect(statements.map((s) => s.cql.split(' ')[0])).toEqual(['INSERT', 'INSERT', 'INSERT'])
    expect(statements.some((s) => /IF NOT EXISTS|SELECT/i.test(s.cql))).toBe(false)
    const links: ChainLink[] = statements.map((s) => ({ seq: s.params[1] as number, text: s.params[3] as string, prevHash: s.params[4] as string, hash: s.params[5] as string }))
    expect(new Set(statements.map((s) => s.params[0]))).toEqual(new Set([trail.currentChain]))
    expect(verifyChain(links, [])).toEqual({ ok: true, records: 3 })
  })

  it('when appends arrive while a write is in flight, then they go together in the next single-partition batch, in order', async () => {
    const { client, statements, batches } = recordingClient()
    const trail = new CassandraAuditTrail(client, 'ks')

    await Promise.all(Array.from({ length: 10 }, (_, i) => trail.append(auditRecord(i))))

    expect(batches.length).toBeGreaterThan(0)
    expect(statements.map((s) => s.params[1])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  it('when a write fails, then the append fails and the next one starts a new chain (the failed numbers are never written again)', async () => {
    const { client, statements } = recordingClient({ failWrites: 1 })
    const trail = new CassandraAuditTrail(client, 'ks')
    const first = trail.currentChain

    await expect(trail.append(auditRecord(1))).rejects.toThrow('write failed')
    await trail.append(auditRecord(2))

    expect(trail.currentChain).not.toBe(first)
    expect(statements.map((s) => [s.params[0] === first ? 'old' : 'new', s.params[1]])).toEqual([
      ['old', 1],
      ['new', 1],
    ])
  })

  it('when the head moved since the last anchor, then anchor() records it once; with nothing new, no write', async () => {
    const { client, statements } = recordingClient()
    const trail = new CassandraAuditTrail(client, 'ks')
    await trail.anchor()
    await trail.append(auditRecord(1))
    await trail.append(auditRecord(2))

    await trail.anchor()
    await trail.anchor()

    const anchors = statements.filter((s) => s.cql.includes('user_deletion_audit_anchor'))
    expect(anchors.map((s) => s.params.slice(0, 2))).toEqual([[trail.currentChain, 2]])
    expect(anchors[0]?.params[2]).toBe(statements[1]?.params[5])
  })
})

describe('CassandraAuditTrail verification', () => {
  it('when chains are named, then only those are walked, with no listing of every chain', async () => {
    const { client, statements } = recordingClient()
    const trail = new CassandraAuditTrail(client, 'ks')

    const verdict = await trail.verify({ chains: ['chain-a'] })

    expect(verdict).toEqual({ ok: true, records: 0, chains: 1 })
    expect(statements.some((s) => /DISTINCT/i.test(s.cql))).toBe(false)
    expect(statements.map((s) => s.params[0])).toEqual(['chain-a', 'chain-a'])
  })

  it('when no chain is named, then every chain named by a record or an anchor is listed first', async () => {
    const { client, statements } = recordingClient()
    const trail = new CassandraAuditTrail(client, 'ks')

    await trail.verify()

    expect(statements.filter((s) => /DISTINCT/i.test(s.cql))).toHaveLength(2)
  })
})

/** The link at an index, which the test made. */
function linkAt(links: ChainLink[], index: number): ChainLink {
  const link = links[index]
  if (!link) throw new Error(`no link ${index}`)
  return link
}

describe('verifyChain', () => {
  const chainOf = (n: number): ChainLink[] => {
    let prev = GENESIS
    return Array.from({ length: n }, (_, i) => {
      const text = `record-${i + 1}`
      const link = { seq: i + 1, text, prevHash: prev, hash: chainHash(prev, i + 1, text) }
      prev = link.hash
      return link
    })
  }

  it('when the chain is intact and its anchors name records that are there, then it verifies', () => {
    const links = chainOf(5)
    expect(
      verifyChain(links, [
        { seq: 3, hash: linkAt(links, 2).hash },
        { seq: 5, hash: linkAt(links, 4).hash },
      ]),
    ).toEqual({ ok: true, records: 5 })
  })

  it('when a record is altered, then it fails at that record', () => {
    const links = chainOf(5)
    links[2] = { ...linkAt(links, 2), text: 'changed' }
    expect(verifyChain(links, [])).toMatchObject({ ok: false, brokenAt: 3 })
  })

  it('when a middle record is deleted, then it fails at the record after the gap', () => {
    const links = chainOf(5).filter((link) => link.seq !== 3)
    expect(verifyChain(links, [])).toMatchObject({ ok: false, brokenAt: 4 })
  })

  it('when the tail is deleted before the last anchor, then it fails at the first missing record', () => {
    const links = chainOf(5)
    const anchors = [{ seq: 4, hash: linkAt(links, 3).hash }]
    expect(verifyChain(links.slice(0, 2), anchors)).toMatchObject({ ok: false, brokenAt: 3 })
    expect(verifyChain(links.slice(0, 4), anchors)).toMatchObject({ ok: true })
  })

  it('when a chain is rewritten whole from an altered record on (new hashes), then an anchor made before still catches it', () => {
    const links = chainOf(4)
    const anchors = [{ seq: 4, hash: linkAt(links, 3).hash }]
    let prev = linkAt(links, 0).hash
    const rewritten = [
      linkAt(links, 0),
      ...links.slice(1).map((link) => {
        const text = `${link.text}!`
        const next = { seq: link.seq, text, prevHash: prev, hash: chainHash(prev, link.seq, text) }
        prev = next.hash
        return next
      }),
    ]
    expect(verifyChain(rewritten, [])).toMatchObject({ ok: true })
    expect(verifyChain(rewritten, anchors)).toMatchObject({ ok: false, brokenAt: 4 })
  })
})
