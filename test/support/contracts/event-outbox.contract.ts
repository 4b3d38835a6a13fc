import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { buildDeleteUserEvent } from '../../../src/deletion/build-event.js'
import type { EventOutbox } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** An EventOutbox with the relay's side: what it would publish, and its confirmation. */
export interface EventOutboxSubject extends ContractSubject {
  outbox: EventOutbox
  /** The event stored for a request and its mid, as the relay would publish it. */
  stored(requestId: string): Promise<{ mid: string; event: Record<string, unknown> } | undefined>
  /** The relay's confirmation that the request's event reached the topic. */
  markPublished(requestId: string, at: Date): Promise<void>
  /** Tells the subject a request id the case uses, so a shared server can be tidied after it. */
  uses?(requestId: string): void
}

/** A delete-user event as the workflow builds it; every call makes a new mid. */
const deleteUserEvent = (userId: string, at = new Date('2024-05-20T10:08:56.812Z')) =>
  buildDeleteUserEvent({ requestId: randomUUID(), userId, organisationId: `org-${randomUUID()}`, suggestedUsers: [{ role: 'ORG_ADMIN', users: [randomUUID()] }], managedUsers: [], now: at })

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
      const event = deleteUserEvent(randomUUID())

      await s.outbox.append(requestId, event)

      expect(await s.outbox.state(requestId)).toBe('queued')
      expect(await s.stored(requestId)).toEqual({ mid: event.mid, event })
    })

    test('when the same request appends again (a resumed run), then the first event and its mid are kept', async (s) => {
      const requestId = newRequestId(s)
      const userId = randomUUID()
      const first = deleteUserEvent(userId)
      await s.outbox.append(requestId, first)

      await s.outbox.append(requestId, deleteUserEvent(userId, new Date('2024-05-20T10:09:30.000Z')))

      expect(await s.stored(requestId)).toEqual({ mid: first.mid, event: first })
      expect(await s.outbox.state(requestId)).toBe('queued')
    })

    test('when appends for one request race, then exactly one event is stored, whole, and it stays', async (s) => {
      const requestId = newRequestId(s)
      const userId = randomUUID()
      const events = Array.from({ length: 4 }, () => deleteUserEvent(userId))

      await Promise.all(events.map((event) => s.outbox.append(requestId, event)))

      const stored = await s.stored(requestId)
      expect(events).toContainEqual(stored?.event)
      expect(stored?.mid).toBe(stored?.event.mid)
      await s.outbox.append(requestId, deleteUserEvent(userId))
      expect(await s.stored(requestId)).toEqual(stored)
    })

    test('when the relay has published the event, then it reads published, and a later append neither replaces nor queues it again', async (s) => {
      const requestId = newRequestId(s)
      const event = deleteUserEvent(randomUUID())
      await s.outbox.append(requestId, event)

      await s.markPublished(requestId, new Date('2024-05-20T10:09:02.345Z'))
      await s.outbox.append(requestId, deleteUserEvent(randomUUID()))

      expect(await s.outbox.state(requestId)).toBe('published')
      expect(await s.stored(requestId)).toEqual({ mid: event.mid, event })
    })

    test('when two requests append, then each keeps its own event', async (s) => {
      const [a, b] = [newRequestId(s), newRequestId(s)]
      const [eventA, eventB] = [deleteUserEvent(randomUUID()), deleteUserEvent(randomUUID())]

      await s.outbox.append(a, eventA)
      await s.outbox.append(b, eventB)
      await s.markPublished(a, new Date())

      expect(await s.stored(a)).toEqual({ mid: eventA.mid, event: eventA })
      expect(await s.stored(b)).toEqual({ mid: eventB.mid, event: eventB })
      expect([await s.outbox.state(a), await s.outbox.state(b)]).toEqual(['published', 'queued'])
    })
  })
}
