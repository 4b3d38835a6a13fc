import type { PlanName } from '../deletion/deletion-request.js'
import type { ExtraTarget, PersonalDataTables } from '../deletion/ports.js'
import { extraTargetStore } from '../deletion/steps/extra-targets.js'
import { type VerificationRow, erasing, rows } from './verify-user-stores.js'

/** What the re-check of the ERASURE_EXTRA_TARGETS tables reads: their rows of the user and, for `blank`, whether the columns it blanks still hold a value. */
export interface ExtraTargetsDeps {
  tables: PersonalDataTables
  extraTargets: readonly ExtraTarget[]
}

const NOT_THERE = { 'table not found': 'table not found', 'column not found': 'a column named is not in the table' } as const

/**
 * Re-checks each ERASURE_EXTRA_TARGETS table for one user, in one read each (PersonalDataTables.
 * inspectExtra, which addresses the table as the erasure does): `delete` leaves no row; `blank`
 * leaves none of its columns holding a value (counted, never printed). A soft deletion keeps them:
 * shown, not judged. A target whose table (or a column it names, its userColumn included) is not
 * there cannot be checked, and cannot pass: the deletion erased nothing there either.
 */
export async function verifyExtraTargets(deps: ExtraTargetsDeps, userId: string, plan: PlanName): Promise<VerificationRow[]> {
  const result: VerificationRow[] = []
  for (const target of deps.extraTargets) {
    const store = extraTargetStore(target)
    const columns = target.columns ?? []
    const expected = target.action === 'delete' ? '0 rows' : columns.length > 0 ? `${columns.join(', ')} blank` : 'blanked'
    const found = await deps.tables.inspectExtra(target, userId)
    // A soft deletion keeps them (a cancel may still bring the person back); they go when it is erased.
    if (!erasing(plan)) result.push({ store, expected: 'kept', found: typeof found === 'string' ? NOT_THERE[found] : rows(found.rows), residue: false })
    else if (typeof found === 'string') result.push({ store, expected, found: NOT_THERE[found], residue: false, unchecked: found })
    else if (target.action === 'delete') result.push({ store, expected, found: rows(found.rows), residue: found.rows > 0 })
    else result.push({ store, expected, found: `${rows(found.holdingValues)} of ${found.rows} with a value`, residue: found.holdingValues > 0 })
  }
  return result
}
