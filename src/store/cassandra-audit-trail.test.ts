import { createHash } from 'node:crypto'
import { type Client, errors } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../deletion/errors.js'
import type { AuditRecord } from '../deletion/ports.js'
import { CassandraAuditReader, CassandraAuditTrail, type ChainAnchor, type ChainLink, chainHash, GENESIS, verifyChain, WRITE_ATTEMPTS } from './cassandra-audit-trail.js'
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

/**
 * A driver stand-in recording every statement: the adapter's writes are checked for reads and
 * lightweight transactions. `failWrites` statements fail, with `failWith` (default: an error that is
 * not Cassandra's unavailability).
 */
function recordingClient(options: { failWrites?: number; failWith?: () => Error } = {}) {
  const statements: { cql: string; params: unknown[] }[] = []
  const batches: number[] = []
  let failures = options.failWrites ?? 0
  const maybeFail = async () => {
    await new Promise((resolve) => setTimeout(resolve, 2))
    if (failures > 0) {
      failures--
      throw options.failWith?.() ?? new Error('write failed')
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
    expect(await verifyChain(links, [])).toEqual({ ok: true, records: 3, head: { seq: 3, hash: linkAt(links, 2).hash } })
  })

  it('when appends arrive while a write is in flight, then they go together in the next single-partition batch, in order', async () => {
    const { client, statements, batches } = recordingClient()
    const trail = new CassandraAuditTrail(client, 'ks')

    await Promise.all(Array.from({ length: 10 }, (_, i) => trail.append(auditRecord(i))))

    expect(batches.length).toBeGreaterThan(0)
    expect(statements.map((s) => s.params[1])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  it('when a write fails for a reason other than Cassandra not answering, then the append fails at once and the next one starts a new chain (the failed numbers are never written again)', async () => {
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

  it('when a write times out, then its record goes again to the start of a new chain, and the append succeeds', async () => {
    const { client, statements } = recordingClient({ failWrites: 1, failWith: () => new errors.OperationTimedOutError('timed out') })
    const trail = new CassandraAuditTrail(client, 'ks')
    const first = trail.currentChain

    await trail.append(auditRecord(1))

    expect(trail.currentChain).not.toBe(first)
    expect(statements.map((s) => [s.params[0] === first ? 'old' : 'new', s.params[1], JSON.parse(s.params[3] as string).requestId])).toEqual([
      ['old', 1, 'req-1'],
      ['new', 1, 'req-1'],
    ])
  })

  it('when a batch times out while appends queue behind it, then the new chain holds every record, the batch first, in the order appended', async () => {
    const { client, statements } = recordingClient({ failWrites: 1, failWith: () => new errors.OperationTimedOutError('timed out') })
    const trail = new CassandraAuditTrail(client, 'ks')
    const first = trail.currentChain

    await Promise.all(Array.from({ length: 10 }, (_, i) => trail.append(auditRecord(i))))

    const onNew = statements.filter((s) => s.params[0] === trail.currentChain)
    expect(statements.filter((s) => s.params[0] === first).map((s) => JSON.parse(s.params[3] as string).requestId)).toEqual(['req-0'])
    expect(onNew.map((s) => JSON.parse(s.params[3] as string).requestId)).toEqual(Array.from({ length: 10 }, (_, i) => `req-${i}`))
    const links: ChainLink[] = onNew.map((s) => ({ seq: s.params[1] as number, text: s.params[3] as string, prevHash: s.params[4] as string, hash: s.params[5] as string }))
    expect(await verifyChain(links, [])).toEqual({ ok: true, records: 10, head: { seq: 10, hash: linkAt(links, 9).hash } })
  })

  it(`when writes keep timing out, then the append fails after ${WRITE_ATTEMPTS} writes, each to a chain of its own, and nothing stays queued`, async () => {
    const { client, statements } = recordingClient({ failWrites: 100, failWith: () => new errors.OperationTimedOutError('timed out') })
    const trail = new CassandraAuditTrail(client, 'ks')

    await expect(trail.append(auditRecord(1))).rejects.toBeInstanceOf(DependencyUnavailableError)

    expect(statements).toHaveLength(WRITE_ATTEMPTS)
    expect(new Set(statements.map((s) => s.params[0])).size).toBe(WRITE_ATTEMPTS)
    expect(statements.map((s) => s.params[1])).toEqual(Array.from({ length: WRITE_ATTEMPTS }, () => 1))
    await expect(Promise.race([trail.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 1000, 'still queued'))])).resolves.toBe('closed')
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

    // The recording client answers no rows: a chain named that no record or anchor names is counted unknown.
    expect(verdict).toEqual({ ok: true, records: 0, chains: 1, unknown: 1, heads: {} })
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

/** A chain of `n` intact links, record texts `record-1` … */
function chainOf(n: number): ChainLink[] {
  let prev = GENESIS
  return Array.from({ length: n }, (_, i) => {
    const text = `record-${i + 1}`
    const link = { seq: i + 1, text, prevHash: prev, hash: chainHash(prev, i + 1, text) }
    prev = link.hash
    return link
  })
}

describe('verifyChain', () => {
  it('when the chain is intact and its anchors name records that are there, then it verifies', async () => {
    const links = chainOf(5)
    expect(
      await verifyChain(links, [
        { seq: 3, hash: linkAt(links, 2).hash },
        { seq: 5, hash: linkAt(links, 4).hash },
      ]),
    ).toEqual({ ok: true, records: 5, head: { seq: 5, hash: linkAt(links, 4).hash } })
  })

  it('when a record is altered, then it fails at that record', async () => {
    const links = chainOf(5)
    links[2] = { ...linkAt(links, 2), text: 'changed' }
    expect(await verifyChain(links, [])).toMatchObject({ ok: false, brokenAt: 3 })
  })

  it('when a middle record is deleted, then it fails at the record after the gap', async () => {
    const links = chainOf(5).filter((link) => link.seq !== 3)
    expect(await verifyChain(links, [])).toMatchObject({ ok: false, brokenAt: 4 })
  })

  it('when the tail is deleted before the last anchor, then it fails at the first missing record', async () => {
    const links = chainOf(5)
    const anchors = [{ seq: 4, hash: linkAt(links, 3).hash }]
    expect(await verifyChain(links.slice(0, 2), anchors)).toMatchObject({ ok: false, brokenAt: 3 })
    expect(await verifyChain(links.slice(0, 4), anchors)).toMatchObject({ ok: true })
  })

  it('when an anchor names a record with another hash, then it fails at that record', async () => {
    const links = chainOf(5)
    expect(await verifyChain(links, [{ seq: 2, hash: linkAt(links, 2).hash }])).toMatchObject({ ok: false, brokenAt: 2 })
  })

  it('when a chain is rewritten whole from an altered record on (new hashes), then an anchor made before still catches it', async () => {
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
    expect(await verifyChain(rewritten, [])).toMatchObject({ ok: true })
    expect(await verifyChain(rewritten, anchors)).toMatchObject({ ok: false, brokenAt: 4 })
  })

  it('when a chain is rewritten with its hashes and its anchors recomputed, then only a head kept outside the cluster (pinned) catches it', async () => {
    const links = chainOf(4)
    const kept = { seq: 3, hash: linkAt(links, 2).hash }
    let prev = GENESIS
    const rewritten = links.map((link) => {
      const text = link.seq === 2 ? 'deletion.completed' : link.text
      const next = { seq: link.seq, text, prevHash: prev, hash: chainHash(prev, link.seq, text) }
      prev = next.hash
      return next
    })
    const recomputedAnchors = [{ seq: 3, hash: linkAt(rewritten, 2).hash }]

    expect(await verifyChain(rewritten, recomputedAnchors)).toMatchObject({ ok: true })
    expect(await verifyChain(rewritten, recomputedAnchors, kept)).toMatchObject({ ok: false, brokenAt: 3 })
    expect(
      await verifyChain(
        links,
        [
          { seq: 2, hash: linkAt(links, 1).hash },
          { seq: 4, hash: linkAt(links, 3).hash },
        ],
        kept,
      ),
    ).toMatchObject({ ok: true })
  })

  it('when a pinned head lies past the chain (its records and anchors removed), then it fails at the first missing record', async () => {
    const links = chainOf(4)

    expect(await verifyChain(links.slice(0, 2), [], { seq: 4, hash: linkAt(links, 3).hash })).toMatchObject({ ok: false, brokenAt: 3 })
    expect(await verifyChain([], [], { seq: 4, hash: linkAt(links, 3).hash })).toMatchObject({ ok: false, brokenAt: 1 })
  })

  it('when links and anchors come as they are read (async), then each is looked at as it comes: a break stops the reading, nothing is read ahead', async () => {
    // Arrange: 1,000 links and an anchor on each, the third link altered; count what was pulled from each source.
    const links = chainOf(1000)
    links[2] = { ...linkAt(links, 2), text: 'changed' }
    const pulled = { links: 0, anchors: 0 }
    async function* stream<T>(items: T[], kind: keyof typeof pulled): AsyncGenerator<T> {
      for (const item of items) {
        pulled[kind]++
        yield item
      }
    }

    // Act
    const verdict = await verifyChain(
      stream(links, 'links'),
      stream(
        links.map((link) => ({ seq: link.seq, hash: link.hash })),
        'anchors',
      ),
    )

    // Assert
    expect(verdict).toEqual({ ok: false, records: 2, brokenAt: 3 })
    expect(pulled).toEqual({ links: 3, anchors: 3 })
  })

  it('when anchors come out of order of seq, then the check refuses rather than pass an anchor unchecked', async () => {
    const links = chainOf(3)
    await expect(
      verifyChain(links, [
        { seq: 2, hash: linkAt(links, 1).hash },
        { seq: 1, hash: 'not the hash of record 1' },
      ]),
    ).rejects.toThrow(/ascending/)
  })
})

interface StoredLink extends ChainLink {
  chain: string
}

/**
 * A driver stand-in holding user_deletion_audit and user_deletion_audit_anchor in memory and paging
 * its answers as the driver does: `fetchSize` rows a page (5,000 when not given), `pageState` for
 * the next one, `rows` the current page only, the async iterator walking on through every page.
 * `executed` lists every read with the page it asked for; `afterPage` runs after each page is served.
 */
function pagingClient(options: { afterPage?: (cql: string, last: boolean) => void } = {}) {
  const links: StoredLink[] = []
  const anchors: (ChainAnchor & { chain: string })[] = []
  const executed: { cql: string; params: unknown[]; pageState?: string }[] = []
  const rowOf = (values: Record<string, unknown>) => ({ get: (name: string) => values[name] })
  const bySeq = <T extends { seq: number }>(items: T[]) => [...items].sort((a, b) => a.seq - b.seq)

  function select(cql: string, params: unknown[]): ReturnType<typeof rowOf>[] {
    if (/^SELECT DISTINCT chain FROM \S+\.user_deletion_audit_anchor$/.test(cql)) return [...new Set(anchors.map((a) => a.chain))].map((chain) => rowOf({ chain }))
    if (/^SELECT DISTINCT chain FROM \S+\.user_deletion_audit$/.test(cql)) return [...new Set(links.map((l) => l.chain))].map((chain) => rowOf({ chain }))
    if (/FROM \S+\.user_deletion_audit WHERE chain = \?$/.test(cql)) {
      return bySeq(links.filter((l) => l.chain === params[0])).map((l) => rowOf({ seq: l.seq, record: l.text, prevhash: l.prevHash, hash: l.hash }))
    }
    if (/FROM \S+\.user_deletion_audit_anchor WHERE chain = \?/.test(cql)) {
      let ofChain = bySeq(anchors.filter((a) => a.chain === params[0]))
      if (/AND seq <= \?/.test(cql)) ofChain = ofChain.filter((a) => a.seq <= Number(params[1]))
      if (/ORDER BY seq DESC LIMIT 1$/.test(cql)) ofChain = ofChain.slice(-1)
      return ofChain.map((a) => rowOf({ seq: a.seq, hash: a.hash }))
    }
    throw new Error(`the stand-in does not know ${cql}`)
  }

  const client = {
    async execute(cql: string, params: unknown[] = [], opts: { fetchSize?: number; pageState?: string } = {}): Promise<unknown> {
      executed.push({ cql, params, ...(opts.pageState !== undefined && { pageState: opts.pageState }) })
      await new Promise((resolve) => setTimeout(resolve, 0))
      const all = select(cql, params)
      const from = opts.pageState === undefined ? 0 : Number(opts.pageState)
      const to = from + (opts.fetchSize ?? 5000)
      const rows = all.slice(from, to)
      const pageState = to < all.length ? String(to) : null
      options.afterPage?.(cql, pageState === null)
      return {
        rows,
        pageState,
        async *[Symbol.asyncIterator]() {
          let page: { rows: unknown[]; pageState: string | null } = { rows, pageState }
          for (;;) {
            yield* page.rows
            if (page.pageState === null) return
            page = (await client.execute(cql, params, { ...opts, pageState: page.pageState })) as typeof page
          }
        },
      }
    },
  }

  /** Stores an intact chain of `n` links (from `from`), with an anchor on each `anchorEvery`-th record. */
  function storeChain(chain: string, n: number, opts: { anchorEvery?: number; after?: ChainLink } = {}) {
    let prev = opts.after?.hash ?? GENESIS
    const start = opts.after?.seq ?? 0
    for (let seq = start + 1; seq <= start + n; seq++) {
      const text = `record-${seq}`
      const link = { chain, seq, text, prevHash: prev, hash: chainHash(prev, seq, text) }
      links.push(link)
      if (opts.anchorEvery && seq % opts.anchorEvery === 0) anchors.push({ chain, seq, hash: link.hash })
      prev = link.hash
    }
  }

  const lastOf = (chain: string) => bySeq(links.filter((l) => l.chain === chain)).at(-1)
  return { client: client as unknown as Client, links, anchors, executed, storeChain, lastOf }
}

describe('CassandraAuditReader paging', () => {
  it("when a chain has more anchors than the driver's first page (5,000), then its newest anchors are checked too: records cut below them fail", async () => {
    // Arrange: 5,010 records anchored one by one, the newest five then removed.
    const db = pagingClient()
    db.storeChain('chain-a', 5010, { anchorEvery: 1 })
    const reader = new CassandraAuditReader(db.client, 'ks')
    expect(await reader.verify({ chains: ['chain-a'] })).toMatchObject({ ok: true, records: 5010, chains: 1, heads: { 'chain-a': { seq: 5010 } } })

    // Act
    db.links.splice(
      db.links.findIndex((l) => l.seq === 5006),
      5,
    )
    const verdict = await reader.verify({ chains: ['chain-a'] })

    // Assert
    expect(verdict).toEqual({ ok: false, records: 5005, chains: 1, chain: 'chain-a', brokenAt: 5006 })
  })

  it('when the fetch size is small, then records and anchors are read page by page, each next page asked for with the page state, and the cut is still found', async () => {
    const db = pagingClient()
    db.storeChain('chain-a', 10, { anchorEvery: 1 })
    const reader = new CassandraAuditReader(db.client, 'ks', { fetchSize: 3 })
    expect(await reader.verify({ chains: ['chain-a'] })).toMatchObject({ ok: true, records: 10, chains: 1, heads: { 'chain-a': { seq: 10 } } })
    const linkPages = db.executed.filter((e) => /user_deletion_audit WHERE/.test(e.cql))
    expect(linkPages.map((e) => e.pageState)).toEqual([undefined, '3', '6', '9'])

    db.links.splice(-1, 1)

    expect(await reader.verify({ chains: ['chain-a'] })).toMatchObject({ ok: false, chain: 'chain-a', brokenAt: 10 })
  })

  it('when a record on the first page is broken, then the later pages are never read: the walk holds a page, not the chain', async () => {
    // Arrange: 2,500 records (three pages of records and anchors), the second altered.
    const db = pagingClient()
    db.storeChain('chain-a', 2500, { anchorEvery: 1 })
    const second = db.links.find((l) => l.seq === 2)
    if (second) second.text = 'changed'

    // Act
    const verdict = await new CassandraAuditReader(db.client, 'ks').verify({ chains: ['chain-a'] })

    // Assert
    expect(verdict).toMatchObject({ ok: false, brokenAt: 2 })
    expect(db.executed.filter((e) => /user_deletion_audit WHERE/.test(e.cql))).toHaveLength(1)
    expect(db.executed.filter((e) => /user_deletion_audit_anchor WHERE chain = \? AND/.test(e.cql))).toHaveLength(1)
  })

  it('when records are appended and anchored while the walk goes on, then the new anchor (past what the walk read) does not fail the chain', async () => {
    // Arrange: 6 records anchored one by one; once the walk has read the last page of records, 2 more are written and anchored.
    let appended = false
    const db = pagingClient({
      afterPage(cql, last) {
        if (appended || !last || !/user_deletion_audit WHERE/.test(cql)) return
        appended = true
        db.storeChain('chain-a', 2, { anchorEvery: 1, after: db.lastOf('chain-a') })
      },
    })
    db.storeChain('chain-a', 6, { anchorEvery: 1 })

    // Act
    const verdict = await new CassandraAuditReader(db.client, 'ks', { fetchSize: 3 }).verify({ chains: ['chain-a'] })

    // Assert
    expect(appended).toBe(true)
    expect(verdict).toMatchObject({ ok: true, records: 6, chains: 1 })
  })

  it('when an earlier walk’s heads are pinned and a chain they name is gone whole (records and anchors), then the walk fails on that chain', async () => {
    const db = pagingClient()
    db.storeChain('chain-a', 3, { anchorEvery: 1 })
    const earlier = await new CassandraAuditReader(db.client, 'ks').verify()
    const heads = earlier.heads ?? {}

    const pinned = { ...heads, 'chain-gone': { seq: 2, hash: 'f'.repeat(64) } }

    expect(Object.keys(heads)).toEqual(['chain-a'])
    expect(await new CassandraAuditReader(db.client, 'ks').verify({ pinned: heads })).toMatchObject({ ok: true, heads })
    expect(await new CassandraAuditReader(db.client, 'ks').verify({ pinned })).toMatchObject({ ok: false, chain: 'chain-gone', brokenAt: 1 })
  })

  it('when no chain is named, then the chains are listed page by page too', async () => {
    const db = pagingClient()
    for (let i = 0; i < 7; i++) db.storeChain(`chain-${i}`, 2, { anchorEvery: 2 })

    expect(await new CassandraAuditReader(db.client, 'ks', { fetchSize: 3 }).verify()).toMatchObject({ ok: true, records: 14, chains: 7 })
  })
})
