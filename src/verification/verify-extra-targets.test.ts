import { describe, expect, it } from 'vitest'
import { InMemoryPersonalTables } from '../../test/support/fakes/in-memory-personal-data.js'
import type { ExtraTarget } from '../deletion/ports.js'
import { type ExtraTargetsDeps, verifyExtraTargets } from './verify-extra-targets.js'

// The ERASURE_EXTRA_TARGETS lines of `npm run deletion:verify`, over the in-memory tables (which
// pass the PersonalDataTables contract, inspectExtra included).
// On the real Cassandra: test/integration/deletion-verify-extra-targets.test.ts.

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const NOTE = 'call Asha on 9876543210'
const FEEDBACK: ExtraTarget = { keyspace: 'sunbird_courses', table: 'course_feedback', userColumn: 'userid', action: 'blank', columns: ['note', 'rating'] }
const ENROLMENTS: ExtraTarget = { keyspace: 'sunbird_courses', table: 'user_enrolments', userColumn: 'userid', action: 'delete' }
const STORE = 'cassandra.sunbird_courses.course_feedback'

/** The in-memory tables holding the feedback table (columns id, userid, note, rating) with `rows` of the user. */
function depsWith(rows: Record<string, unknown>[], extraTargets: readonly ExtraTarget[] = [FEEDBACK]): ExtraTargetsDeps {
  const tables = new InMemoryPersonalTables(() => ({}))
  tables.declareTable('sunbird_courses.course_feedback', ['id', 'userid', 'note', 'rating'])
  for (const [n, row] of rows.entries()) tables.addRow('sunbird_courses.course_feedback', { id: `f-${n}`, userid: USER, ...row })
  return { tables, extraTargets }
}

describe('deletion:verify re-reads the columns an ERASURE_EXTRA_TARGETS target blanks', () => {
  it('when every blanked column is empty, then the line counts the rows, none with a value, ok', async () => {
    const deps = depsWith([
      { note: null, rating: null },
      { note: '', rating: null },
    ])

    expect(await verifyExtraTargets(deps, USER, 'hard')).toEqual([{ store: STORE, expected: 'note, rating blank', found: '0 rows of 2 with a value', residue: false }])
  })

  it('when a blanked column still holds a value, then the line is residue, counting the rows, and never shows the value', async () => {
    const deps = depsWith([
      { note: NOTE, rating: null },
      { note: null, rating: null },
    ])

    const rows = await verifyExtraTargets(deps, USER, 'sunbird')

    expect(rows).toEqual([{ store: STORE, expected: 'note, rating blank', found: '1 row of 2 with a value', residue: true }])
    expect(JSON.stringify(rows)).not.toContain('Asha')
  })

  it('when the target deletes, then a row left is residue', async () => {
    const deps = depsWith([{ note: null }], [{ ...FEEDBACK, action: 'delete', columns: [] }])

    expect(await verifyExtraTargets(deps, USER, 'hard')).toEqual([{ store: STORE, expected: '0 rows', found: '1 row', residue: true }])
  })

  it('when the deletion is soft, then the table is kept: counted, not judged', async () => {
    expect(await verifyExtraTargets(depsWith([{ note: NOTE }]), USER, 'soft')).toEqual([{ store: STORE, expected: 'kept', found: '1 row', residue: false }])
  })

  it.each([
    ['a column it blanks', { ...FEEDBACK, columns: ['nickname'] }, 'nickname blank'],
    ['its userColumn', { ...FEEDBACK, userColumn: 'owner' }, 'note, rating blank'],
  ])('when %s is not in the table, then the line cannot be checked, never ok', async (_case, target, expected) => {
    expect(await verifyExtraTargets(depsWith([{ note: NOTE }], [target]), USER, 'hard')).toEqual([
      { store: STORE, expected, found: 'a column named is not in the table', residue: false, unchecked: 'column not found' },
    ])
  })
})

describe('deletion:verify with an ERASURE_EXTRA_TARGETS table that does not exist', () => {
  it.each([{ ...FEEDBACK, table: 'no_such_feedback' }, ENROLMENTS])('when the deletion erases (%o), then the line is "table not found" and cannot be checked, never ok', async (target) => {
    const [row] = await verifyExtraTargets(depsWith([], [target]), USER, 'hard')

    expect(row).toMatchObject({ found: 'table not found', residue: false, unchecked: 'table not found' })
  })

  it('when the deletion is soft, then the plan keeps the table: shown as not found, not judged', async () => {
    expect(await verifyExtraTargets(depsWith([], [ENROLMENTS]), USER, 'soft')).toEqual([
      { store: 'cassandra.sunbird_courses.user_enrolments', expected: 'kept', found: 'table not found', residue: false },
    ])
  })
})
