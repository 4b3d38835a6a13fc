import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { CodeTable, ExtraTarget, JsonRow, PersonalDataTables, PersonalTable } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'
import { PERSONAL_TABLE_USER_COLUMN as USER_COLUMN } from '../personal-table-columns.js'

export interface PersonalDataTablesSubject extends ContractSubject {
  tables: PersonalDataTables
  /** Writes the user row with these contact columns (email, phone, prevusedemail, …). */
  seedContacts(userId: string, contacts: Record<string, string>): Promise<void>
  /** Writes a code row keyed by the plain value: otp under `kind` as its type, rate_limit under `kind` as its unit. */
  seedCode(table: CodeTable, value: string, kind: string): Promise<void>
  /** Writes one row of a side table (its primary key columns included). */
  seedRow(table: PersonalTable, row: JsonRow): Promise<void>
  /** A table outside Sunbird's own, with columns id (its key), user_id and note, that exists. */
  extraTable(): Promise<{ keyspace: string; table: string }>
  seedExtra(target: { keyspace: string; table: string }, row: { id: string; user_id: string; note: string }): Promise<void>
  /** Every row of the extra table whose user_id is `userId`. */
  extraRows(target: { keyspace: string; table: string }, userId: string): Promise<JsonRow[]>
  /** The most rows one read of the adapter answers at once (a page); the fake reads everything at once. */
  pageRows: number
}

/** Two rows of the user in each side table (distinct primary keys), as Sunbird's writers lay them out. */
function rowsOf(table: PersonalTable, userId: string): JsonRow[] {
  const tag = randomUUID()
  switch (table) {
    case 'user_declarations':
      return ['teacher', 'volunteer'].map((persona) => ({ userid: userId, orgid: 'org-1', persona, status: 'SUBMITTED' }))
    case 'user_consent':
      return ['org-1', 'org-2'].map((consumer) => ({ id: `usr-consent:${userId}:${consumer}`, user_id: userId, consumer_id: consumer, object_id: consumer, status: 'ACTIVE' }))
    case 'shadow_user':
      return [1, 2].map((n) => ({ channel: 'demo', userextid: `${tag}-${n}`, userid: userId, name: 'Ashwini', email: 'ashwini@example.org', phone: '9876543210', orgextid: 'school-1' }))
    case 'user_notes':
      return [1, 2].map((n) => ({ id: `${tag}-${n}`, userid: userId, title: 'Chapter 3' }))
    case 'user_feed':
      return [1, 2].map((n) => ({ id: `${tag}-${n}`, userid: userId, category: 'orgmigrationaction' }))
    case 'user_cert':
      return [1, 2].map((n) => ({ id: `${tag}-${n}`, userid: userId, certid: `cert-${n}` }))
    case 'address':
      return [1, 2].map((n) => ({ id: `${tag}-${n}`, userid: userId, city: 'Pune' }))
  }
}

const TABLES = Object.keys(USER_COLUMN) as PersonalTable[]

/** A unique plain email and phone, as otp and rate_limit are keyed. */
function contacts() {
  const tag = randomUUID().slice(0, 8)
  return { email: `${tag}@example.org`, phone: `9${String(Number.parseInt(tag, 16) % 1e9).padStart(9, '0')}` }
}

/** Runs `write` for 0…count−1, 100 at a time: thousands of rows seeded in seconds, not one round trip each in turn. */
async function inBatches(count: number, write: (n: number) => Promise<void>): Promise<void> {
  for (let from = 0; from < count; from += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - from) }, (_, i) => write(from + i)))
  }
}

/**
 * What the deletion engine relies on from PersonalDataTables (the side tables, the code tables keyed
 * by plain contacts, the extra targets), run against the in-memory fake (unit tier) and the
 * Cassandra adapter (integration tier) alike.
 */
export function describePersonalDataTablesContract(implementation: string, factory: SubjectFactory<PersonalDataTablesSubject>): void {
  const test = contractCase(factory)

  describe(`PersonalDataTables contract: ${implementation}`, () => {
    test('when the user row holds contacts, then each distinct non-empty one is read; with no user row, none', async (s) => {
      const userId = randomUUID()
      const { email, phone } = contacts()
      await s.seedContacts(userId, { email, phone, prevusedemail: email, recoveryphone: '', recoveryemail: `old.${email}` })

      expect((await s.tables.readContacts(userId)).sort()).toEqual([email, phone, `old.${email}`].sort())
      expect(await s.tables.readContacts(randomUUID())).toEqual([])
    })

    test('when otp rows of either type are keyed by the contacts, then they are counted and deleted; a repeat deletes 0; another person’s stay', async (s) => {
      const mine = contacts()
      const theirs = contacts()
      await s.seedCode('otp', mine.email, 'email')
      await s.seedCode('otp', mine.phone, 'phone')
      await s.seedCode('otp', theirs.email, 'email')
      const values = [mine.email, mine.phone]

      expect(await s.tables.countCodes('otp', values)).toBe(2)
      expect(await s.tables.deleteCodes('otp', values)).toBe(2)
      expect(await s.tables.countCodes('otp', values)).toBe(0)
      expect(await s.tables.deleteCodes('otp', values)).toBe(0)
      expect(await s.tables.countCodes('otp', [theirs.email])).toBe(1)
    })

    test('when rate_limit rows in several units are keyed by the contacts, then all are counted and deleted; a repeat deletes 0; another person’s stay', async (s) => {
      const mine = contacts()
      const theirs = contacts()
      await s.seedCode('rate_limit', mine.email, 'HOUR')
      await s.seedCode('rate_limit', mine.email, 'DAY')
      await s.seedCode('rate_limit', mine.phone, 'MINUTE')
      await s.seedCode('rate_limit', theirs.phone, 'HOUR')
      const values = [mine.email, mine.phone]

      expect(await s.tables.countCodes('rate_limit', values)).toBe(3)
      expect(await s.tables.deleteCodes('rate_limit', values)).toBe(3)
      expect(await s.tables.countCodes('rate_limit', values)).toBe(0)
      expect(await s.tables.deleteCodes('rate_limit', values)).toBe(0)
      expect(await s.tables.countCodes('rate_limit', [theirs.phone])).toBe(1)
    })

    test('when no code is keyed by the values, then counting and deleting answer 0', async (s) => {
      const none = contacts()
      for (const table of ['otp', 'rate_limit'] as const) {
        expect(await s.tables.countCodes(table, [none.email, none.phone])).toBe(0)
        expect(await s.tables.deleteCodes(table, [none.email, none.phone])).toBe(0)
      }
    })

    for (const table of TABLES) {
      test(`when the user has rows in ${table}, then they are all read and deleted (counted); a repeat deletes 0; another user’s rows stay`, async (s) => {
        const userId = randomUUID()
        const other = randomUUID()
        const rows = rowsOf(table, userId)
        const [othersRow] = rowsOf(table, other)
        for (const row of [...rows, othersRow as JsonRow]) await s.seedRow(table, row)

        const read = await s.tables.readRows(table, userId)
        expect(read).toHaveLength(2)
        for (const row of rows) expect(read).toContainEqual(expect.objectContaining(row))

        expect(await s.tables.deleteRows(table, userId)).toBe(2)
        expect(await s.tables.readRows(table, userId)).toEqual([])
        expect(await s.tables.deleteRows(table, userId)).toBe(0)
        expect(await s.tables.readRows(table, other)).toEqual([expect.objectContaining(othersRow)])
      })
    }

    test('when a user has no rows in a side table, then reading finds none and deleting counts 0', async (s) => {
      const userId = randomUUID()
      for (const table of TABLES) {
        expect(await s.tables.readRows(table, userId)).toEqual([])
        expect(await s.tables.deleteRows(table, userId)).toBe(0)
      }
    })

    test('when shadow users are blanked, then name, email and phone are null, the rows and their other columns stay, a repeat changes nothing, another user’s stay', async (s) => {
      const userId = randomUUID()
      const other = randomUUID()
      const rows = rowsOf('shadow_user', userId)
      const [othersRow] = rowsOf('shadow_user', other)
      for (const row of [...rows, othersRow as JsonRow]) await s.seedRow('shadow_user', row)
      const blanked = rows.map((row) => ({ ...row, name: null, email: null, phone: null }))

      expect(await s.tables.blankShadowUsers(userId)).toBe(2)
      const read = await s.tables.readRows('shadow_user', userId)
      expect(read).toHaveLength(2)
      for (const row of blanked) expect(read).toContainEqual(expect.objectContaining(row))
      expect(await s.tables.blankShadowUsers(userId)).toBe(2)
      expect(await s.tables.readRows('shadow_user', userId)).toHaveLength(2)
      expect(await s.tables.readRows('shadow_user', other)).toEqual([expect.objectContaining(othersRow)])
      expect(await s.tables.blankShadowUsers(randomUUID())).toBe(0)
    })

    test('when an extra target deletes, then the user’s rows are counted and removed, a repeat removes 0, another user’s stay', async (s) => {
      const table = await s.extraTable()
      const target: ExtraTarget = { ...table, userColumn: 'user_id', action: 'delete' }
      const userId = randomUUID()
      const other = randomUUID()
      await s.seedExtra(table, { id: randomUUID(), user_id: userId, note: 'first' })
      await s.seedExtra(table, { id: randomUUID(), user_id: userId, note: 'second' })
      await s.seedExtra(table, { id: randomUUID(), user_id: other, note: 'theirs' })

      expect(await s.tables.countExtra(target, userId)).toBe(2)
      expect(await s.tables.eraseExtra(target, userId)).toBe(2)
      expect(await s.tables.countExtra(target, userId)).toBe(0)
      expect(await s.extraRows(table, userId)).toEqual([])
      expect(await s.tables.eraseExtra(target, userId)).toBe(0)
      expect(await s.extraRows(table, other)).toEqual([expect.objectContaining({ user_id: other, note: 'theirs' })])
    })

    test('when an extra target blanks columns, then the user’s rows stay with those columns null, counted each time', async (s) => {
      const table = await s.extraTable()
      const target: ExtraTarget = { ...table, userColumn: 'user_id', action: 'blank', columns: ['note'] }
      const userId = randomUUID()
      const other = randomUUID()
      await s.seedExtra(table, { id: randomUUID(), user_id: userId, note: 'first' })
      await s.seedExtra(table, { id: randomUUID(), user_id: userId, note: 'second' })
      await s.seedExtra(table, { id: randomUUID(), user_id: other, note: 'theirs' })

      expect(await s.tables.eraseExtra(target, userId)).toBe(2)
      const rows = await s.extraRows(table, userId)
      expect(rows).toHaveLength(2)
      for (const row of rows) expect(row.note).toBeNull()
      expect(await s.tables.countExtra(target, userId)).toBe(2)
      expect(await s.tables.eraseExtra(target, userId)).toBe(2)
      expect(await s.extraRows(table, other)).toEqual([expect.objectContaining({ note: 'theirs' })])
    })

    test('when an extra target is inspected, then its user rows are counted with those still holding a blanked column (none once blanked); a missing table or column is said, not thrown', async (s) => {
      const table = await s.extraTable()
      const blank: ExtraTarget = { ...table, userColumn: 'user_id', action: 'blank', columns: ['note'] }
      const userId = randomUUID()
      await s.seedExtra(table, { id: randomUUID(), user_id: userId, note: 'first' })
      await s.seedExtra(table, { id: randomUUID(), user_id: userId, note: 'second' })
      await s.seedExtra(table, { id: randomUUID(), user_id: randomUUID(), note: 'theirs' })

      expect(await s.tables.inspectExtra(blank, userId)).toEqual({ rows: 2, holdingValues: 2 })
      expect(await s.tables.inspectExtra({ ...blank, action: 'delete', columns: [] }, userId)).toEqual({ rows: 2, holdingValues: 0 })
      await s.tables.eraseExtra(blank, userId)
      expect(await s.tables.inspectExtra(blank, userId)).toEqual({ rows: 2, holdingValues: 0 })

      expect(await s.tables.inspectExtra({ ...blank, table: 'no_such_extra_table' }, userId)).toBe('table not found')
      expect(await s.tables.inspectExtra({ ...blank, columns: ['nickname'] }, userId)).toBe('column not found')
      expect(await s.tables.inspectExtra({ ...blank, userColumn: 'owner' }, userId)).toBe('column not found')
    })

    test('when a user has more rows than one page of reads holds, then every one is deleted and counted, in a side table and in an extra target', async (s) => {
      // The driver's execute answers one page: an erasure that stopped there would say done and leave the rest.
      const rows = 2 * s.pageRows + 1
      const userId = randomUUID()
      const table = await s.extraTable()
      const target: ExtraTarget = { ...table, userColumn: 'user_id', action: 'delete' }
      await inBatches(rows, (n) => s.seedRow('user_feed', { id: `${userId}-${n}`, userid: userId, category: 'orgmigrationaction' }))
      await inBatches(rows, (n) => s.seedExtra(table, { id: `${userId}-${n}`, user_id: userId, note: 'welcome' }))

      expect(await s.tables.countExtra(target, userId)).toBe(rows)
      expect(await s.tables.deleteRows('user_feed', userId)).toBe(rows)
      expect(await s.tables.eraseExtra(target, userId)).toBe(rows)
      expect(await s.tables.readRows('user_feed', userId)).toEqual([])
      expect(await s.tables.countExtra(target, userId)).toBe(0)
    })

    test('when a user has more rows than one page holds, then every one is blanked (shadow users, an extra target that blanks) and counted, and a table keyed by the user counts them all', async (s) => {
      const rows = 2 * s.pageRows + 1
      const userId = randomUUID()
      const table = await s.extraTable()
      const target: ExtraTarget = { ...table, userColumn: 'user_id', action: 'blank', columns: ['note'] }
      await inBatches(rows, (n) => s.seedRow('shadow_user', { channel: 'demo', userextid: `${userId}-${n}`, userid: userId, name: 'Ashwini', email: 'ashwini@example.org', phone: '9876543210' }))
      await inBatches(rows, (n) => s.seedExtra(table, { id: `${userId}-${n}`, user_id: userId, note: 'welcome' }))
      await inBatches(rows, (n) => s.seedRow('user_declarations', { userid: userId, orgid: `org-${n}`, persona: 'teacher', status: 'SUBMITTED' }))

      expect(await s.tables.blankShadowUsers(userId)).toBe(rows)
      expect((await s.tables.readRows('shadow_user', userId)).filter((row) => row.name !== null || row.email !== null || row.phone !== null)).toEqual([])
      expect(await s.tables.eraseExtra(target, userId)).toBe(rows)
      expect((await s.extraRows(table, userId)).filter((row) => row.note !== null)).toEqual([])
      expect(await s.tables.deleteRows('user_declarations', userId)).toBe(rows)
      expect(await s.tables.readRows('user_declarations', userId)).toEqual([])
    })

    test('when an extra target’s table does not exist, then counting and erasing answer undefined', async (s) => {
      const { keyspace } = await s.extraTable()
      for (const action of ['delete', 'blank'] as const) {
        const target: ExtraTarget = { keyspace, table: 'no_such_table', userColumn: 'user_id', action, columns: ['note'] }
        expect(await s.tables.countExtra(target, randomUUID())).toBeUndefined()
        expect(await s.tables.eraseExtra(target, randomUUID())).toBeUndefined()
      }
    })
  })
}
