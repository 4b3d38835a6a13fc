import { errors as cassandraErrors, types } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { InMemoryPersonalTables } from '../../test/support/fakes/in-memory-personal-data.js'
import type { ExtraTarget } from '../deletion/ports.js'
import { type ExtraTargetsDeps, verifyExtraTargets } from './verify-extra-targets.js'

// The ERASURE_EXTRA_TARGETS lines of `npm run deletion:verify`, over the in-memory tables and a
// stub of the driver's execute (the one read the port has no method for: the blanked columns).
// On the real Cassandra: test/integration/deletion-verify-extra-targets.test.ts.

const USER = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const NOTE = 'call Asha on 9876543210'
const FEEDBACK: ExtraTarget = { keyspace: 'sunbird_courses', table: 'course_feedback', userColumn: 'userid', action: 'blank', columns: ['note', 'rating'] }
const ENROLMENTS: ExtraTarget = { keyspace: 'sunbird_courses', table: 'user_enrolments', userColumn: 'userid', action: 'delete' }

/** The in-memory tables with `rows` of the feedback table, and an execute that answers the blanked columns of those rows (whatever is asked, as a fake). */
function depsWith(rows: Record<string, unknown>[], extraTargets: readonly ExtraTarget[] = [FEEDBACK]): ExtraTargetsDeps & { statements: string[] } {
  const tables = new InMemoryPersonalTables(() => ({}))
  for (const row of rows) tables.addRow('sunbird_courses.course_feedback', { userid: USER, ...row })
  const statements: string[] = []
  const execute = (async (cql: string) => {
    statements.push(cql)
    // As the driver's rows: each column a property of the row (shadowing get() for a column named so).
    return rows.map((row) => ({ get: (column: string) => row[column] ?? null, ...row }))
  }) as unknown as ExtraTargetsDeps['cassandra']['execute']
  return { tables, extraTargets, cassandra: { execute }, statements }
}

describe('deletion:verify re-reads the columns an ERASURE_EXTRA_TARGETS target blanks', () => {
  it('when every blanked column is empty, then the line counts the rows, none with a value, ok', async () => {
    const deps = depsWith([
      { note: null, rating: null },
      { note: '', rating: null },
    ])

    const rows = await verifyExtraTargets(deps, USER, 'hard')

    expect(rows).toEqual([{ store: 'cassandra.sunbird_courses.course_feedback', expected: 'note, rating blank', found: '0 rows of 2 with a value', residue: false }])
    expect(deps.statements).toEqual(['SELECT "note", "rating" FROM "sunbird_courses"."course_feedback" WHERE "userid" = ? ALLOW FILTERING'])
  })

  it('when a blanked column still holds a value, then the line is residue, counting the rows, and never shows the value', async () => {
    const deps = depsWith([
      { note: NOTE, rating: null },
      { note: null, rating: null },
    ])

    const rows = await verifyExtraTargets(deps, USER, 'sunbird')

    expect(rows).toEqual([{ store: 'cassandra.sunbird_courses.course_feedback', expected: 'note, rating blank', found: '1 row of 2 with a value', residue: true }])
    expect(JSON.stringify(rows)).not.toContain('Asha')
  })

  it('when a blanked column is named get (the driver sets it over the row’s get()), then it is still read', async () => {
    const target: ExtraTarget = { ...FEEDBACK, columns: ['get'] }
    const deps = depsWith([{ get: NOTE }, { get: null }], [target])

    expect(await verifyExtraTargets(deps, USER, 'hard')).toEqual([{ store: 'cassandra.sunbird_courses.course_feedback', expected: 'get blank', found: '1 row of 2 with a value', residue: true }])
  })

  it('when the deletion is soft, then the table is kept: counted, not re-read, not judged', async () => {
    const deps = depsWith([{ note: NOTE }])

    expect(await verifyExtraTargets(deps, USER, 'soft')).toEqual([{ store: 'cassandra.sunbird_courses.course_feedback', expected: 'kept', found: '1 row', residue: false }])
    expect(deps.statements).toEqual([])
  })

  it('when a column the target names is not in the table (Cassandra refuses the read as invalid), then the line cannot be checked, never ok', async () => {
    const deps = depsWith([{ note: NOTE }])
    deps.cassandra = {
      execute: (async () => {
        throw new cassandraErrors.ResponseError(types.responseErrorCodes.invalid, 'Undefined column name rating')
      }) as unknown as ExtraTargetsDeps['cassandra']['execute'],
    }

    expect(await verifyExtraTargets(deps, USER, 'hard')).toEqual([
      { store: 'cassandra.sunbird_courses.course_feedback', expected: 'note, rating blank', found: 'a column named is not in the table', residue: false, unchecked: 'column not found' },
    ])
  })
})

describe('deletion:verify with an ERASURE_EXTRA_TARGETS table that does not exist', () => {
  it.each([FEEDBACK, ENROLMENTS])('when the deletion erases (%o), then the line is "table not found" and cannot be checked, never ok', async (target) => {
    const deps = depsWith([], [target])

    const [row] = await verifyExtraTargets(deps, USER, 'hard')

    expect(row).toMatchObject({ found: 'table not found', residue: false, unchecked: 'table not found' })
    expect(deps.statements).toEqual([])
  })

  it('when the deletion is soft, then the plan keeps the table: shown as not found, not judged', async () => {
    expect(await verifyExtraTargets(depsWith([], [ENROLMENTS]), USER, 'soft')).toEqual([
      { store: 'cassandra.sunbird_courses.user_enrolments', expected: 'kept', found: 'table not found', residue: false },
    ])
  })
})
