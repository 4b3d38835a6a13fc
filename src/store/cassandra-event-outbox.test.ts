import { describe, expect, it } from 'vitest'
import { outboxDriver } from '../../test/support/fakes/outbox-driver.js'
import { CassandraEventOutbox, LISTING_FETCH_MAX, type OutboxEntry } from './cassandra-event-outbox.js'

const entryOf = (requestId: string): OutboxEntry => ({ requestId, mid: `LP.1.${requestId}`, userId: `user-${requestId}`, payload: JSON.stringify({ mid: `LP.1.${requestId}` }), attempts: 0 })
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

describe('CassandraEventOutbox.pending', () => {
  it('when nothing is passed by, then one read of the listing of a page asks for the page and says whether the listing was read to its end', async () => {
    const db = outboxDriver()
    db.add(...ids('a', 3).map(entryOf))
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const page = await outbox.pending(100)

    expect(page.entries.map((e) => e.requestId)).toEqual(ids('a', 3))
    expect(page.complete).toBe(true)
    expect(page.listed).toEqual(ids('a', 3))
    expect(db.listingReads).toEqual([{ cql: 'SELECT requestid, createdat FROM ks.user_deletion_event_outbox_pending', fetchSize: 100 }])

    db.add(...ids('b', 200).map(entryOf))
    db.listingReads.length = 0
    const full = await outbox.pending(100)
    expect(full.entries).toHaveLength(100)
    expect(full.complete).toBe(false)
    expect(db.listingReads).toHaveLength(1)
  })

  it("when a page is asked for after an id, then the listing is read from that id's token on, and the page says where to read on from while more is listed", async () => {
    const db = outboxDriver()
    db.add(...ids('a', 5).map(entryOf))
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const first = await outbox.pending(2)
    expect(first.resumeAfter).toBe('a-1')
    const second = await outbox.pending(2, new Set(), first.resumeAfter)

    expect(second.entries.map((e) => e.requestId)).toEqual(['a-2', 'a-3'])
    expect(db.listingReads.at(-1)).toEqual({ cql: 'SELECT requestid, createdat FROM ks.user_deletion_event_outbox_pending WHERE token(requestid) > token(?)', fetchSize: 2 })
    const last = await outbox.pending(2, new Set(), second.resumeAfter)
    expect(last.entries.map((e) => e.requestId)).toEqual(['a-4'])
    expect(last).toMatchObject({ complete: true, more: false })
    expect(last.resumeAfter).toBeUndefined()
  })

  it("when more events are passed by than the driver's page holds, then the listing is read on, page after page, until a page's worth is found, and it is not taken for the listing's end", async () => {
    const db = outboxDriver()
    const held = ids('held', 5100)
    const after = ids('after', 6000)
    db.add(...[...held, ...after].map(entryOf))
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const page = await outbox.pending(100, new Set(held))

    expect(page.entries.map((e) => e.requestId)).toEqual(after.slice(0, 100))
    expect(page.complete).toBe(false)
    // Read in pages of at most LISTING_FETCH_MAX, each on from the one before, and no further than needed.
    expect(db.listingReads.map((r) => r.fetchSize)).toEqual([LISTING_FETCH_MAX, LISTING_FETCH_MAX])
    expect(db.listingReads[0]?.pageState).toBeUndefined()
    expect(db.listingReads[1]?.pageState).toBeDefined()
    expect(page.listed).toEqual([...held, ...after].slice(0, 2 * LISTING_FETCH_MAX))
  })

  it('when the events passed by and a page are more than one read of the driver gives, then the listing is read to its end and every id it holds is said', async () => {
    const db = outboxDriver()
    const held = ids('held', 5100)
    const after = ids('after', 150)
    db.add(...[...held, ...after].map(entryOf))
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const page = await outbox.pending(100, new Set(held))

    expect(page.entries.map((e) => e.requestId)).toEqual(after.slice(0, 100))
    expect(page.complete).toBe(true)
    // The 50 read past the page are still to publish: the relay goes on within its tick.
    expect(page.more).toBe(true)
    expect(page.listed).toEqual([...held, ...after])
    expect(db.listingReads).toHaveLength(2)
  })

  it('when the listing holds more than the page takes, then the ids past the page are said as listed, not read', async () => {
    const db = outboxDriver()
    db.add(...['x', 'a', 'b', 'z'].map(entryOf))
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const page = await outbox.pending(2, new Set(['x', 'y']))

    expect(page.entries.map((e) => e.requestId)).toEqual(['a', 'b'])
    expect(page.listed).toEqual(['x', 'a', 'b', 'z'])
    // Z is left for another page: there is more to publish.
    expect(page.more).toBe(true)
  })

  it("when the listing holds exactly one of the driver's pages, all passed by, then a further read finds its end: complete, and nothing more to publish", async () => {
    const db = outboxDriver()
    const held = ids('held', LISTING_FETCH_MAX)
    db.add(...held.map(entryOf))
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const page = await outbox.pending(100, new Set(held))

    expect(page.entries).toEqual([])
    expect(page.complete).toBe(true)
    expect(page.more).toBe(false)
    expect(page.listed).toEqual(held)
    expect(db.listingReads).toHaveLength(2)
    expect(db.listingReads[1]?.pageState).toBeDefined()
  })

  it('when a page takes every id left but the last read ended a full page, then it says there may be more, and the next read finds none', async () => {
    const db = outboxDriver()
    db.add(...ids('a', 100).map(entryOf))
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const page = await outbox.pending(100)

    expect(page.entries).toHaveLength(100)
    expect(page.more).toBe(true)
    expect(db.listingReads).toHaveLength(1)
  })

  it('when a listed entry is published already, then it is dropped from the listing, not returned', async () => {
    const db = outboxDriver()
    db.add(entryOf('done'), entryOf('open'))
    // Listed again by a run that wrote the event once more after its publication.
    await db.client.execute('UPDATE ks.user_deletion_event_outbox SET publishedat = ?, payload = null WHERE requestid = ?', [new Date('2026-12-01T10:00:00Z'), 'done'])
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    const page = await outbox.pending(100)

    expect(page.entries.map((e) => e.requestId)).toEqual(['open'])
    expect(db.listed()).toEqual(['open'])
    expect(db.entry('done')?.publishedat).toEqual(new Date('2026-12-01T10:00:00Z'))
  })

  it("when events are listed, then the page says when each was appended (its listing's createdat), those passed by and past the page too", async () => {
    const db = outboxDriver()
    const outbox = new CassandraEventOutbox(db.client, 'ks')
    const first = new Date('2026-12-01T10:00:00Z')
    const second = new Date('2026-12-01T10:05:00Z')
    await outbox.append('held', { mid: 'LP.1.held', object: { id: 'user-held' } })
    await db.client.execute('INSERT INTO ks.user_deletion_event_outbox_pending (requestid, createdat) VALUES (?, ?)', ['held', first])
    await outbox.append('a', { mid: 'LP.1.a', object: { id: 'user-a' } })
    await db.client.execute('INSERT INTO ks.user_deletion_event_outbox_pending (requestid, createdat) VALUES (?, ?)', ['a', second])
    await outbox.append('b', { mid: 'LP.1.b', object: { id: 'user-b' } })

    const page = await outbox.pending(1, new Set(['held']))

    expect(page.entries.map((e) => e.requestId)).toEqual(['a'])
    expect(page.listedAt.get('held')).toEqual(first)
    expect(page.listedAt.get('a')).toEqual(second)
    expect([...page.listedAt.keys()]).toEqual(page.listed)
  })
})

describe('CassandraEventOutbox.listedCount', () => {
  it("when the listing holds more than one read of the driver gives, then every listed event is counted, read page after page to the listing's end", async () => {
    const db = outboxDriver()
    db.add(...ids('a', LISTING_FETCH_MAX + 20).map(entryOf))
    db.publishElsewhere('a-3')
    const outbox = new CassandraEventOutbox(db.client, 'ks')

    expect(await outbox.listedCount()).toBe(LISTING_FETCH_MAX + 19)
    expect(db.listingReads.map((r) => r.fetchSize)).toEqual([LISTING_FETCH_MAX, LISTING_FETCH_MAX])
  })
})
