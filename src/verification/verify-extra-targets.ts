import { type Client, errors as cassandraErrors, types } from 'cassandra-driver'
import type { PlanName } from '../deletion/deletion-request.js'
import type { ExtraTarget, PersonalDataTables } from '../deletion/ports.js'
import { extraTargetStore } from '../deletion/steps/extra-targets.js'
import { type VerificationRow, erasing, rows } from './verify-user-stores.js'

/** What the re-check of the ERASURE_EXTRA_TARGETS tables reads: their rows of the user, and (for `blank`) the columns blanked. */
export interface ExtraTargetsDeps {
  tables: PersonalDataTables
  extraTargets: readonly ExtraTarget[]
  /** Only `execute`: the port counts rows but does not read columns, so the blanked ones are read here. */
  cassandra: Pick<Client, 'execute'>
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Quotes a configured identifier for CQL (the config schema validates it; checked again, since it goes into the statement). */
function quoted(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error('not a CQL identifier in ERASURE_EXTRA_TARGETS')
  return `"${name}"`
}

const holdsValue = (value: unknown) => value !== null && value !== undefined && value !== ''

/** Cassandra refused a read as invalid: a column the target names (its userColumn, or one it blanks) is not in the table. */
const isInvalidQuery = (err: unknown) => err instanceof cassandraErrors.ResponseError && err.code === types.responseErrorCodes.invalid

/**
 * How many of the user's rows still hold a value in a column the target blanks (never the value
 * itself), page after page; undefined when Cassandra refuses the read as invalid: a column the
 * target names is not in the table.
 */
async function rowsNotBlank(cassandra: ExtraTargetsDeps['cassandra'], target: ExtraTarget, columns: readonly string[], userId: string): Promise<number | undefined> {
  const table = `${quoted(target.keyspace)}.${quoted(target.table)}`
  // ALLOW FILTERING, as the erasure reads them: the user column may be any column.
  const cql = `SELECT ${columns.map(quoted).join(', ')} FROM ${table} WHERE ${quoted(target.userColumn)} = ? ALLOW FILTERING`
  let left = 0
  try {
    for await (const row of await cassandra.execute(cql, [userId], { prepare: true, fetchSize: 1000 })) {
      // row[column], not row.get(column): the driver sets each column on the row, a column named `get` too.
      if (columns.some((column) => holdsValue((row as unknown as Record<string, unknown>)[column]))) left++
    }
  } catch (err) {
    if (isInvalidQuery(err)) return undefined
    throw err
  }
  return left
}

/**
 * Re-checks each ERASURE_EXTRA_TARGETS table for one user: `delete` leaves no row; `blank` leaves
 * none of its columns holding a value (re-read, counted, never printed). A soft deletion keeps them:
 * shown, not judged. A target whose table (or a column it names) is not there cannot be checked,
 * and cannot pass: the deletion erased nothing there either.
 */
export async function verifyExtraTargets(deps: ExtraTargetsDeps, userId: string, plan: PlanName): Promise<VerificationRow[]> {
  const result: VerificationRow[] = []
  for (const target of deps.extraTargets) {
    const store = extraTargetStore(target)
    const columns = target.columns ?? []
    const expected = target.action === 'delete' ? '0 rows' : columns.length > 0 ? `${columns.join(', ')} blank` : 'blanked'
    let count: number | undefined
    try {
      count = await deps.tables.countExtra(target, userId)
    } catch (err) {
      if (!isInvalidQuery(err)) throw err
      const found = 'its userColumn is not in the table'
      result.push(erasing(plan) ? { store, expected, found, residue: false, unchecked: 'column not found' } : { store, expected: 'kept', found, residue: false })
      continue
    }
    // A soft deletion keeps them (a cancel may still bring the person back); they go when it is erased.
    if (!erasing(plan)) result.push({ store, expected: 'kept', found: count === undefined ? 'table not found' : rows(count), residue: false })
    else if (count === undefined) result.push({ store, expected, found: 'table not found', residue: false, unchecked: 'table not found' })
    else if (target.action === 'delete') result.push({ store, expected, found: rows(count), residue: count > 0 })
    // `blank` without columns blanks nothing: its rows are only counted, as the erasure does.
    else if (columns.length === 0) result.push({ store, expected, found: `${rows(count)} (no columns named)`, residue: false })
    else {
      const left = count > 0 ? await rowsNotBlank(deps.cassandra, target, columns, userId) : 0
      if (left === undefined) result.push({ store, expected, found: 'a column named is not in the table', residue: false, unchecked: 'column not found' })
      else result.push({ store, expected, found: `${rows(left)} of ${count} with a value`, residue: left > 0 })
    }
  }
  return result
}
