import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import type { JsonRow, UserSearchIndex } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'
import { failureOf } from './failure-of.js'

export interface UserSearchIndexSubject extends ContractSubject {
  index: UserSearchIndex
  /** Writes a user document as Sunbird's indexer does (_id = user id). */
  seedUser(userId: string, document: JsonRow): Promise<void>
  /** Writes a `usernotes` document under its own id. */
  seedNote(noteId: string, note: JsonRow): Promise<void>
  /** The same port over an engine that does not answer. */
  unreachable(): Promise<UserSearchIndex>
  /** The same port over an engine that answers every request with this error status (a security plugin's 403, a closed index's 400, a 500). */
  refusing(status: number): Promise<UserSearchIndex>
  /**
   * The same port over an engine that holds `userId`'s document and one note of theirs and answers
   * reads, but refuses every write with this error status (a 403 from a security plugin that allows
   * reads only, a 409 version conflict on the soft flag).
   */
  refusingWrites(userId: string, status: number): Promise<UserSearchIndex>
  /**
   * The same port over the same notes, reading them `pageSize` at a time and refusing more than
   * `pageSize × maxPages` of one user (so a case crosses pages with a few notes).
   */
  readingNotesInPages(pageSize: number, maxPages: number): Promise<UserSearchIndex>
  /** The same port over a notes index that holds `notes` (by note id) and refuses to delete any of them, item by item (a write block). */
  notesUndeletable(notes: Record<string, JsonRow>): Promise<UserSearchIndex>
}

/** Every call of the port, for a user. */
function everyCall(index: UserSearchIndex, userId: string): [string, () => Promise<unknown>][] {
  return [
    ['readUser', () => index.readUser(userId)],
    ['replaceUser', () => index.replaceUser(userId, { id: userId })],
    ['flagUserDeleted', () => index.flagUserDeleted(userId)],
    ['restoreUserFlags', () => index.restoreUserFlags(userId, { status: 1, isDeleted: false, isBlocked: false })],
    ['deleteUser', () => index.deleteUser(userId)],
    ['readNotes', () => index.readNotes(userId)],
    ['deleteNotes', () => index.deleteNotes(userId)],
  ]
}

function expectSearchUnavailable(name: string, failure: unknown): void {
  expect(failure, name).toBeInstanceOf(DependencyUnavailableError)
  expect((failure as DependencyUnavailableError).dependency, name).toBe('search')
}

/** A Sunbird user document: ids, flags, and a few personal fields. */
function userDocument(userId: string): JsonRow {
  return { id: userId, userId, identifier: userId, firstName: 'Ashwini', lastName: 'Kulkarni', email: 'ashwini@example.org', status: 1, isDeleted: false, rootOrgId: 'org-1' }
}

const note = (noteId: string, userId: string): JsonRow => ({ id: noteId, identifier: noteId, userId, courseId: 'course-1', title: 'Chapter 3', note: 'Call back', tags: ['maths'] })

/**
 * What the deletion engine relies on from UserSearchIndex (Sunbird's user document and notes), run
 * against the in-memory fake (unit tier) and the OpenSearch adapter (integration tier) alike.
 */
export function describeUserSearchIndexContract(implementation: string, factory: SubjectFactory<UserSearchIndexSubject>): void {
  const test = contractCase(factory)

  describe(`UserSearchIndex contract: ${implementation}`, () => {
    test('when a user has a document, then it is read whole; when none, undefined', async (s) => {
      const userId = randomUUID()
      expect(await s.index.readUser(userId)).toBeUndefined()

      await s.seedUser(userId, userDocument(userId))

      expect(await s.index.readUser(userId)).toEqual(userDocument(userId))
    })

    test('when the user is flagged deleted, then it answers true, status 2, isDeleted and isBlocked are set, and the rest stays', async (s) => {
      const userId = randomUUID()
      await s.seedUser(userId, userDocument(userId))

      expect(await s.index.flagUserDeleted(userId)).toBe(true)
      expect(await s.index.readUser(userId)).toEqual({ ...userDocument(userId), status: 2, isDeleted: true, isBlocked: true })
      expect(await s.index.flagUserDeleted(userId)).toBe(true)
    })

    test('when the flags a document had are restored after a soft flag, then it is as before: a flag it did not have (null) is removed, never left null', async (s) => {
      const userId = randomUUID()
      await s.seedUser(userId, { ...userDocument(userId), isBlocked: false })
      await s.index.flagUserDeleted(userId)

      expect(await s.index.restoreUserFlags(userId, { status: 1, isDeleted: false, isBlocked: false })).toBe(true)
      expect(await s.index.readUser(userId)).toEqual({ ...userDocument(userId), isBlocked: false })

      const other = randomUUID()
      await s.seedUser(other, userDocument(other))
      await s.index.flagUserDeleted(other)
      expect(await s.index.restoreUserFlags(other, { status: 1, isDeleted: false, isBlocked: null })).toBe(true)
      expect(await s.index.readUser(other)).toEqual(userDocument(other))
    })

    test('when there is no document, then flagging answers false, restoring false, and nothing is written', async (s) => {
      const userId = randomUUID()

      expect(await s.index.flagUserDeleted(userId)).toBe(false)
      expect(await s.index.restoreUserFlags(userId, { status: 1, isDeleted: false, isBlocked: false })).toBe(false)
      expect(await s.index.readUser(userId)).toBeUndefined()
    })

    test('when the document is replaced, then only the new fields survive; with no document, it answers absent and writes nothing', async (s) => {
      const userId = randomUUID()
      await s.seedUser(userId, userDocument(userId))
      const tombstone = { id: userId, userId, identifier: userId, status: 2, isDeleted: true, isBlocked: true }

      expect(await s.index.replaceUser(userId, tombstone)).toBe('replaced')
      expect(await s.index.readUser(userId)).toEqual(tombstone)
      expect(await s.index.replaceUser(userId, tombstone)).toBe('replaced')

      const absent = randomUUID()
      expect(await s.index.replaceUser(absent, { id: absent, status: 2 })).toBe('absent')
      expect(await s.index.readUser(absent)).toBeUndefined()
    })

    test('when the document is deleted, then it answers 1 and it is gone; a repeat answers 0; other users keep theirs', async (s) => {
      const userId = randomUUID()
      const other = randomUUID()
      await s.seedUser(userId, userDocument(userId))
      await s.seedUser(other, userDocument(other))

      expect(await s.index.deleteUser(userId)).toBe(1)
      expect(await s.index.readUser(userId)).toBeUndefined()
      expect(await s.index.deleteUser(userId)).toBe(0)
      expect(await s.index.readUser(other)).toEqual(userDocument(other))
    })

    test('when the user has notes, then all of them are read and deleted (counted), a repeat deletes 0, and another user’s notes stay', async (s) => {
      const userId = randomUUID()
      const other = randomUUID()
      const ids = [`note-${userId}-1`, `note-${userId}-2`, `note-${userId}-3`]
      for (const id of ids) await s.seedNote(id, note(id, userId))
      await s.seedNote(`note-${other}`, note(`note-${other}`, other))

      const read = await s.index.readNotes(userId)
      expect(read.map((row) => row.id).sort()).toEqual([...ids].sort())
      expect(read[0]).toEqual(note(String(read[0]?.id), userId))

      expect(await s.index.deleteNotes(userId)).toBe(3)
      expect(await s.index.readNotes(userId)).toEqual([])
      expect(await s.index.deleteNotes(userId)).toBe(0)
      expect(await s.index.readNotes(other)).toEqual([note(`note-${other}`, other)])
    })

    test('when the user has no notes, then reading finds none and deleting counts 0', async (s) => {
      const userId = randomUUID()

      expect(await s.index.readNotes(userId)).toEqual([])
      expect(await s.index.deleteNotes(userId)).toBe(0)
    })

    test('when the user has more notes than one page holds, then every one of them is read, page after page, and no other user’s', async (s) => {
      const userId = randomUUID()
      const other = randomUUID()
      const ids = [1, 2, 3, 4, 5].map((n) => `note-${userId}-${n}`)
      for (const id of ids) await s.seedNote(id, note(id, userId))
      for (const id of [`note-${other}-1`, `note-${other}-2`]) await s.seedNote(id, note(id, other))
      const paged = await s.readingNotesInPages(2, 10)

      const read = await paged.readNotes(userId)

      expect(read.map((row) => row.id).sort()).toEqual([...ids].sort())
      for (const row of read) expect(row).toEqual(note(String(row.id), userId))
      expect(await paged.readNotes(other)).toHaveLength(2)
    })

    test('when the user has more notes than the read bound (pageSize × maxPages), then reading fails as the search dependency unavailable, never a partial list; exactly the bound is read whole', async (s) => {
      const atBound = randomUUID()
      const overBound = randomUUID()
      for (const n of [1, 2, 3, 4]) await s.seedNote(`note-${atBound}-${n}`, note(`note-${atBound}-${n}`, atBound))
      for (const n of [1, 2, 3, 4, 5]) await s.seedNote(`note-${overBound}-${n}`, note(`note-${overBound}-${n}`, overBound))
      const paged = await s.readingNotesInPages(2, 2)

      expect(await paged.readNotes(atBound)).toHaveLength(4)
      expectSearchUnavailable('readNotes over the bound', await failureOf(() => paged.readNotes(overBound)))
    })

    test('when the engine does not answer, then every call fails as the search dependency unavailable (so the step stays owed)', async (s) => {
      const down = await s.unreachable()
      for (const [name, call] of everyCall(down, randomUUID())) expectSearchUnavailable(name, await failureOf(call))
    })

    test('when the engine answers every request with an error status, then every call fails as the search dependency unavailable, never as a bug', async (s) => {
      for (const status of [400, 403, 409, 500]) {
        const refusing = await s.refusing(status)
        for (const [name, call] of everyCall(refusing, randomUUID())) expectSearchUnavailable(`${name} answered ${status}`, await failureOf(call))
      }
    })

    test("when the engine does not answer, or answers with an error status, then finding and erasing an adder's name in other users' documents fail as the search dependency unavailable", async (s) => {
      const adderCalls = (index: UserSearchIndex): [string, () => Promise<unknown>][] => [
        ['findAdderNamed', () => index.findAdderNamed(randomUUID(), 10)],
        ['eraseAdderName', () => index.eraseAdderName(randomUUID(), randomUUID())],
        ['refreshUsers', () => index.refreshUsers()],
      ]
      for (const [name, call] of adderCalls(await s.unreachable())) expectSearchUnavailable(name, await failureOf(call))
      for (const status of [400, 403, 409, 500]) {
        for (const [name, call] of adderCalls(await s.refusing(status))) expectSearchUnavailable(`${name} answered ${status}`, await failureOf(call))
      }
    })

    test('when the engine answers reads but refuses writes, then every call that would change the document or notes fails as the search dependency unavailable', async (s) => {
      for (const status of [403, 409, 500]) {
        const userId = randomUUID()
        const refusing = await s.refusingWrites(userId, status)
        expect(await refusing.readUser(userId)).toBeDefined()
        expect(await refusing.readNotes(userId)).toHaveLength(1)

        for (const [name, call] of everyCall(refusing, userId).filter(([name]) => !name.startsWith('read'))) {
          expectSearchUnavailable(`${name} refused ${status}`, await failureOf(call))
        }
      }
    })

    test('when the notes cannot be deleted (each delete refused), then deleting them fails as the search dependency unavailable instead of trying for ever, and they are still there', async (s) => {
      const userId = randomUUID()
      const ids = [`note-${userId}-1`, `note-${userId}-2`]
      const blocked = await s.notesUndeletable(Object.fromEntries(ids.map((id) => [id, note(id, userId)])))

      expectSearchUnavailable('deleteNotes', await failureOf(() => blocked.deleteNotes(userId)))
      expect((await blocked.readNotes(userId)).map((row) => row.id).sort()).toEqual([...ids].sort())
      // Nothing to delete: nothing refused.
      expect(await blocked.deleteNotes(randomUUID())).toBe(0)
    })
  })
}
