import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { buildDeleteUserEvent } from '../../../src/deletion/build-event.js'
import type { RelayDeps } from '../../../src/events/kafka-relay.js'
import type { OutboxEntry } from '../../../src/store/cassandra-event-outbox.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** The outbox as the relay uses it: pages of what to publish, and what became of each entry. */
export type RelayOutbox = RelayDeps['outbox']

/** A RelayOutbox with the writes that arrange its listing. */
export interface RelayOutboxSubject extends ContractSubject {
  outbox: RelayOutbox
  /** Writes a request's event and lists it, as the deletion's event step does (EventOutbox.append). */
  append(requestId: string, event: Record<string, unknown>): Promise<void>
  /** Lists a request without its entry: an append whose listing landed before its entry (one unlogged batch). */
  listWithoutEntry(requestId: string): Promise<void>
  /** Listed ids the case did not list (other tests' events on a shared server): the cases pass them by, as the relay passes by held-back events. */
  listedByOthers(): Promise<ReadonlySet<string>>
  /** Tells the subject a request id the case uses, so a shared server can be tidied after it. */
  uses?(requestId: string): void
}

const deleteUserEvent = (requestId: string, userId = randomUUID()) =>
  buildDeleteUserEvent({
    requestId,
    userId,
    organisationId: `org-${userId}`,
    suggestedUsers: [{ role: 'ORG_ADMIN', users: [randomUUID()] }],
    managedUsers: [],
    now: new Date('2024-05-20T10:08:56.812Z'),
  })

const idsOf = (entries: readonly OutboxEntry[]) => entries.map((entry) => entry.requestId)

/**
 * What the relay (src/events/kafka-relay.ts) relies on from the outbox's relay side, run against the
 * relay's in-memory fake (unit tier) and CassandraEventOutbox (integration tier) alike. The listing's
 * order is the store's own (Cassandra's is by token), so no case expects the order of appends.
 */
export function describeRelayOutboxContract(implementation: string, factory: SubjectFactory<RelayOutboxSubject>): void {
  const test = contractCase(factory)

  function newRequestId(s: RelayOutboxSubject): string {
    const id = `relay-contract-${randomUUID()}`
    s.uses?.(id)
    return id
  }

  async function appended(s: RelayOutboxSubject, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => newRequestId(s))
    for (const id of ids) await s.append(id, deleteUserEvent(id))
    return ids
  }

  describe(`Relay outbox contract: ${implementation}`, () => {
    test('when an entry is read, then it carries the event as appended: its mid, its user (the message key), the event itself, and no attempts yet', async (s) => {
      const others = await s.listedByOthers()
      const requestId = newRequestId(s)
      const userId = randomUUID()
      const event = deleteUserEvent(requestId, userId)
      await s.append(requestId, event)

      const { entries } = await s.outbox.pending(10, others)

      expect(entries).toEqual([{ requestId, mid: event.mid, userId, payload: expect.any(String), attempts: 0 }])
      expect(JSON.parse(entries[0]?.payload ?? 'null')).toEqual(event)
    })

    test('when a send of an entry fails, then each attemptFailed with the entry as read counts one more attempt, read back by the next page', async (s) => {
      const others = await s.listedByOthers()
      const [requestId] = await appended(s, 1)
      const read = async () => (await s.outbox.pending(10, others)).entries.find((entry) => entry.requestId === requestId)

      await s.outbox.attemptFailed((await read())!)
      expect((await read())?.attempts).toBe(1)
      await s.outbox.attemptFailed((await read())!)

      // Still listed, to be sent again.
      expect((await read())?.attempts).toBe(2)
    })

    test('when more are listed than the limit, then the page gives the first `limit` of the listing, in its order, and says there are more and that the listing was not read to its end', async (s) => {
      const others = await s.listedByOthers()
      await appended(s, 3)

      const page = await s.outbox.pending(2, others)

      expect(idsOf(page.entries)).toHaveLength(2)
      expect(idsOf(page.entries)).toEqual(page.listed.filter((id) => !others.has(id)).slice(0, 2))
      // Not complete: the relay must not take an entry it has not seen for one gone from the listing.
      expect(page).toMatchObject({ complete: false, more: true })
    })

    test('when the page reaches past the end of the listing, then it is complete, has nothing more, and `listed` names every listed id, those passed by too', async (s) => {
      const others = await s.listedByOthers()
      const [passedBy, ...read] = (await appended(s, 3)) as [string, ...string[]]

      const page = await s.outbox.pending(5, new Set([...others, passedBy]))

      expect(idsOf(page.entries).sort()).toEqual([...read].sort())
      expect(page.listed.filter((id) => !others.has(id)).sort()).toEqual([passedBy, ...read].sort())
      expect(page).toMatchObject({ complete: true, more: false })
    })

    test('when all but one listed entry are passed by, then a page of one gives that one, wherever it is listed: passed-by entries never fill the page', async (s) => {
      const others = await s.listedByOthers()
      const ids = await appended(s, 5)

      // Each in turn the one not passed by, so wherever the store lists it, it is found past the others.
      for (const id of ids) {
        const page = await s.outbox.pending(1, new Set([...others, ...ids.filter((other) => other !== id)]))
        expect(idsOf(page.entries)).toEqual([id])
      }
    })

    test('when pages are read each after the last one took up, then they go on through the listing to its end, each entry once, even when the entry they read after has left the listing', async (s) => {
      const others = await s.listedByOthers()
      const ids = await appended(s, 5)

      const first = await s.outbox.pending(2, others)
      expect(first).toMatchObject({ more: true, resumeAfter: idsOf(first.entries).at(-1) })
      // The relay publishes what it read: the place read after is no longer listed.
      for (const entry of first.entries) await s.outbox.markPublished(entry.requestId, new Date('2024-05-20T10:09:02.345Z'))
      const second = await s.outbox.pending(2, others, first.resumeAfter)
      expect(second).toMatchObject({ more: true, resumeAfter: idsOf(second.entries).at(-1) })
      const last = await s.outbox.pending(2, others, second.resumeAfter)

      expect(last).toMatchObject({ complete: true, more: false })
      expect(last.resumeAfter).toBeUndefined()
      const read = [first, second, last].flatMap((page) => idsOf(page.entries))
      expect(read).toHaveLength(5)
      expect([...read].sort()).toEqual([...ids].sort())
    })

    test('when the relay marks an entry published, then it leaves the listing: no later page reads or lists it', async (s) => {
      const others = await s.listedByOthers()
      const [published, queued] = (await appended(s, 2)) as [string, string]

      await s.outbox.markPublished(published, new Date('2024-05-20T10:09:02.345Z'))

      const page = await s.outbox.pending(10, others)
      expect(idsOf(page.entries)).toEqual([queued])
      expect(page.listed).not.toContain(published)
      expect(page.listed).toContain(queued)
    })

    test('when an entry is listed again after its publication (a run wrote its event once more), then no page gives it (it is not published twice), and it leaves the listing', async (s) => {
      const others = await s.listedByOthers()
      const requestId = newRequestId(s)
      const event = deleteUserEvent(requestId)
      await s.append(requestId, event)
      await s.outbox.markPublished(requestId, new Date('2024-05-20T10:09:02.345Z'))
      // The run had read its request before the relay recorded the publication.
      await s.append(requestId, event)

      expect((await s.outbox.pending(10, others)).entries).toEqual([])

      // Dropped for good: not read again on every pass.
      expect((await s.outbox.pending(10, others)).listed).not.toContain(requestId)
    })

    test('when entries are appended, then the page says when each was listed (at its append), and listedCount counts them with every other listed entry', async (s) => {
      const others = await s.listedByOthers()
      const before = await s.outbox.listedCount()
      const from = Date.now()
      const appendedIds = await appended(s, 2)

      const page = await s.outbox.pending(10, others)

      for (const id of appendedIds) {
        const at = page.listedAt.get(id)?.getTime()
        expect(at).toBeGreaterThanOrEqual(from - 1000)
        expect(at).toBeLessThanOrEqual(Date.now() + 1000)
      }
      expect(await s.outbox.listedCount()).toBe(before + 2)
    })

    test('when a request is listed before its entry is written, then pages pass it by and keep it listed, and give it once its entry is there', async (s) => {
      const others = await s.listedByOthers()
      const requestId = newRequestId(s)
      await s.listWithoutEntry(requestId)

      const first = await s.outbox.pending(10, others)
      expect(first.entries).toEqual([])
      expect(first.listed).toContain(requestId)
      // Not unlisted by that read: it would never be published.
      expect((await s.outbox.pending(10, others)).listed).toContain(requestId)

      await s.append(requestId, deleteUserEvent(requestId))

      expect(idsOf((await s.outbox.pending(10, others)).entries)).toEqual([requestId])
    })
  })
}
