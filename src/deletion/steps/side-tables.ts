import type { JsonRow, PersonalTable } from '../ports.js'
import { plainDeclaration } from '../sunbird-decryption.js'
import { type DeletionStep, type PlanName, type PreviewContext, type StepContext, actionFor, stepOutcome } from './step.js'

/** How a row is given to the person in their export: as stored, unless the table holds values Sunbird encrypts. */
type ExportedRow = (deps: StepContext['deps'], row: JsonRow) => JsonRow

/** A user-keyed table whose rows a deletion removes (found by its user column or its userid index). */
function rowsStep<Name extends string, const Plans extends readonly PlanName[]>(name: Name, table: PersonalTable, plans: Plans, why: string, kept: string, exported?: ExportedRow) {
  const store = `cassandra.${table}`
  return {
    name,
    store,
    why,
    plans,
    kept: { action: 'kept', why: kept },
    async run({ deps, request, plan }: StepContext) {
      return stepOutcome('done', 'deleted', deps.clock.now(), await deps.tables.deleteRows(table, request.userId), { plan })
    },
    async preview({ deps, userId, plan }: PreviewContext) {
      return [{ store, action: actionFor(plan, Object.fromEntries(plans.map((p) => [p, 'delete']))), count: (await deps.tables.readRows(table, userId)).length }]
    },
    async exportData({ deps, userId }: { deps: StepContext['deps']; userId: string }) {
      const rows = await deps.tables.readRows(table, userId)
      return { [table]: exported ? rows.map((row) => exported(deps, row)) : rows }
    },
  } satisfies DeletionStep<Name>
}

const WHILE_CANCELLABLE = 'kept while the deletion can be cancelled'

// The person's copy: the declared email and phone, which Sunbird stores encrypted, as the person gave them (with the key set).
export const declarations = rowsStep(
  'declarations',
  'user_declarations',
  ['sunbird', 'hard'],
  'self-declared email, phone and school removed (Sunbird never touches them)',
  WHILE_CANCELLABLE,
  (deps, row) => plainDeclaration(deps.decryptUserField, row),
)
export const notes = rowsStep('notes', 'user_notes', ['sunbird', 'hard'], 'free-text notes removed', WHILE_CANCELLABLE)
export const consent = rowsStep('consent', 'user_consent', ['hard'], 'consent records removed', 'ids and consent status only: the record of what was consented to, kept as Sunbird keeps it')
export const userFeed = rowsStep('userFeed', 'user_feed', ['sunbird', 'hard'], 'legacy feed rows (free text) removed', WHILE_CANCELLABLE)
export const userCert = rowsStep('userCert', 'user_cert', ['sunbird', 'hard'], 'legacy certificate rows (access codes, store) removed', WHILE_CANCELLABLE)
export const address = rowsStep('address', 'address', ['sunbird', 'hard'], 'legacy postal addresses removed', WHILE_CANCELLABLE)
