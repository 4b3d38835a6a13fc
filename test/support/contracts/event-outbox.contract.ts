import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { buildDeleteUserEvent } from '../../../src/deletion/build-event.js'
import type { EventOutbox } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** An EventOutbox with the relay's side: what it would publish, and its confirmation. */
export interface EventOutboxSubject extends ContractSubject {
  outbox: EventOutbox
  /** The event stored for a request and its mid, as the relay would publish it; `event` undefined once its payload is gone. */
  stored(requestId: string): Promise<{ mid: string; event: Record<string, unknown> | undefined } | undefined>
  /** The relay's confirmation that the request's event reached the topic. */
  markPublished(requestId: string, at: Date): Promise<void>
  /** Tells the subject a request id the case uses, so a shared server can be tidied after it. */
  uses?(requestId: string): void
}

/** A delete-user event as the workflow builds it for a request: its mid follows from the request id and the event time. */
const deleteUserEvent = (requestId: string, userId: string, admins: string[] = [randomUUID()], at = new Date('2024-05-20T10:08:56.812Z'), userName: string | null = null) =>
  buildDeleteUserEvent({ requestId, userId, organisationId: `org-${userId}`, userName, suggestedUsers: [{ role: 'ORG_ADMIN', users: admins }], managedUsers: [], now: at })

/**
 * What the deletion workflow and the relay rely on from an EventOutbox, run against the in-memory
 * fake (unit tier) and the Cassandra adapter (integration tier) alike.
 */
export function describeEventOutboxContract(implementation: string, factory: SubjectFactory<EventOutboxSubject>): void {
  const test = contractCase(factory)

  function newRequestId(s: EventOutboxSubject): string {
    const id = `contract-${randomUUID()}`
    s.uses?.(id)
    return id
  }

  describe(`EventOutbox contract: ${implementation}`, () => {
    test('when nothing was appended for a request, then its state is undefined', async (s) => {
      expect(await s.outbox.state(newRequestId(s))).toBeUndefined()
    })

    test('when an event is appended, then it is queued and stored exactly, under its mid', async (s) => {
      const requestId = newRequestId(s)
      const event = deleteUserEvent(requestId, randomUUID())

      await s.outbox.append(requestId, event)

      expect(await s.outbox.state(requestId)).toBe('queued')
      expect(await s.stored(requestId)).toEqual({ mid: event.mid, event })
    })

    test('when the same request appends again (a resumed run: the same mid), then one event is stored under that mid, still queued', async (s) => {
      const requestId = newRequestId(s)
      const userId = randomUUID()
      const first = deleteUserEvent(requestId, userId)
      await s.outbox.append(requestId, first)
      const again = deleteUserEvent(requestId, userId)

      await s.outbox.append(requestId, again)

      expect(again.mid).toBe(first.mid)
      expect(await s.stored(requestId)).toEqual({ mid: first.mid, event: again })
      expect(await s.outbox.state(requestId)).toBe('queued')
    })

    test('when appends for one request race, then one whole event of theirs is stored under the request’s mid', async (s) => {
      const requestId = newRequestId(s)
      const userId = randomUUID()
      const events = Array.from({ length: 4 }, () => deleteUserEvent(requestId, userId))

      await Promise.all(events.map((event) => s.outbox.append(requestId, event)))

      const stored = await s.stored(requestId)
      expect(events).toContainEqual(stored?.event)
      expect(stored?.mid).toBe(events[0]?.mid)
      expect(await s.outbox.state(requestId)).toBe('queued')
    })

    test('when the relay has published the event, then a later append of the same request leaves it published, not queued again', async (s) => {
      const requestId = newRequestId(s)
      const userId = randomUUID()
      const event = deleteUserEvent(requestId, userId)
      await s.outbox.append(requestId, event)

      await s.markPublished(requestId, new Date('2024-05-20T10:09:02.345Z'))
      await s.outbox.append(requestId, deleteUserEvent(requestId, userId))

      expect(await s.outbox.state(requestId)).toBe('published')
      expect((await s.stored(requestId))?.mid).toBe(event.mid)
    })

    test('when the relay has published the event, then its payload is gone (the name with it), and its mid and publication stay', async (s) => {
      const requestId = newRequestId(s)
      const event = deleteUserEvent(requestId, randomUUID(), undefined, undefined, 'asha.k')
      await s.outbox.append(requestId, event)
      expect((await s.stored(requestId))?.event).toMatchObject({ edata: { userName: 'asha.k' } })

      await s.markPublished(requestId, new Date('2024-05-20T10:09:02.345Z'))

      const stored = await s.stored(requestId)
      expect(stored?.mid).toBe(event.mid)
      expect(stored?.event).toBeUndefined()
      expect(await s.outbox.state(requestId)).toBe('published')
    })

    test('when two requests append, then each keeps its own event until it is published', async (s) => {
      const [a, b] = [newRequestId(s), newRequestId(s)]
      const [eventA, eventB] = [deleteUserEvent(a, randomUUID()), deleteUserEvent(b, randomUUID())]

      await s.outbox.append(a, eventA)
      await s.outbox.append(b, eventB)
      expect(await s.stored(a)).toEqual({ mid: eventA.mid, event: eventA })
      await s.markPublished(a, new Date())

      expect((await s.stored(a))?.event).toBeUndefined()
      expect(await s.stored(b)).toEqual({ mid: eventB.mid, event: eventB })
      expect([await s.outbox.state(a), await s.outbox.state(b)]).toEqual(['published', 'queued'])
    })
  })
}
