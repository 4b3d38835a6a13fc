import { type DeletionVerification, type ManagedUsersVerification, allRows } from './verify-deletion.js'
import type { UncheckedReason, VerificationRow } from './verify-user-stores.js'

/** The per-store table, aligned for a terminal. */
export function formatVerification(rowsToPrint: readonly VerificationRow[]): string {
  const header: VerificationRow & { result: string } = { store: 'store', expected: 'expected', found: 'found', residue: false, result: 'result' }
  const lines = [header, ...rowsToPrint.map((r) => ({ ...r, result: r.residue ? 'RESIDUE' : r.unchecked ? 'CANNOT CHECK' : 'ok' }))]
  const width = (key: 'store' | 'expected' | 'found') => Math.max(...lines.map((line) => line[key].length))
  const [ws, we, wf] = [width('store'), width('expected'), width('found')]
  return lines.map((line) => `${line.store.padEnd(ws)}  ${line.expected.padEnd(we)}  ${line.found.padEnd(wf)}  ${line.result}`).join('\n')
}

/** RESIDUE when anything is left; INCOMPLETE when nothing is but some store could not be checked; else ok. */
const verdict = (rows: readonly VerificationRow[]) => (rows.some((row) => row.residue) ? 'RESIDUE' : rows.some((row) => row.unchecked) ? 'INCOMPLETE' : 'ok')

/** Where the managed users' ids came from, so an operator can tell a recorded set from a guess. */
function managedUsersSource(managed: ManagedUsersVerification): string {
  const recorded = managed.recorded === undefined ? 'the deletion recorded no ids' : `${managed.recorded} recorded by the deletion`
  return `${managed.users.length} (${recorded}; ${managed.linkedOnly} found linked by managedby only)`
}

const RECEIPT_KEY_DOCS = '(docs/operating.md, "Changing the receipt key")'

/** What to do about each reason a store could not be checked; `stores`: the stores it kept unchecked, by name (no value). */
const ADVICE: Readonly<Record<UncheckedReason, (stores: string, receiptKeyId: string) => string>> = {
  'other key': (_, keyId) =>
    `CANNOT CHECK by value: the contacts' hashes kept with the request were made with another key than the configured DELETION_RECEIPT_HASH_KEY (key id ${keyId}). Run again with DELETION_RECEIPT_HASH_KEY set to the key whose id the lines name ${RECEIPT_KEY_DOCS}.`,
  'key not recorded': (_, keyId) =>
    `CANNOT CHECK by value: the request did not record which key made its contacts' hashes, and its receipt was not made with the configured DELETION_RECEIPT_HASH_KEY (key id ${keyId}). Run again with DELETION_RECEIPT_HASH_KEY set to the key the service had when the deletion ran ${RECEIPT_KEY_DOCS}.`,
  'search not configured': (stores) =>
    `CANNOT CHECK ${stores}: the deletion reached the search engine, which this process is not configured with. Run again with sunbird_es_host (and sunbird_es_port) set as the service has them.`,
  'cache not configured': (stores) =>
    `CANNOT CHECK ${stores}: the deletion reached Redis, which this process is not configured with. Run again with sunbird_redis_host (and sunbird_redis_port) set as the service has them.`,
  'table not found': (stores) =>
    `CANNOT CHECK ${stores}: ERASURE_EXTRA_TARGETS names a table that does not exist in this Cassandra, so a deletion run with it erased nothing there. Correct the target's keyspace and table in ERASURE_EXTRA_TARGETS (here and on the service), then run again.`,
  'column not found': (stores) =>
    `CANNOT CHECK ${stores}: a column ERASURE_EXTRA_TARGETS names for it (its userColumn or a column it blanks) is not in the table. Correct the target in ERASURE_EXTRA_TARGETS (here and on the service), then run again.`,
}

/** One line per reason some store could not be checked, in a fixed order, naming the stores it concerns (each once, whoever's they were). */
function adviceFor(verification: DeletionVerification): string[] {
  const storesBy = new Map<UncheckedReason, Set<string>>()
  for (const row of allRows(verification)) if (row.unchecked) storesBy.set(row.unchecked, (storesBy.get(row.unchecked) ?? new Set()).add(row.store))
  return (Object.keys(ADVICE) as UncheckedReason[]).flatMap((reason) => {
    const stores = storesBy.get(reason)
    return stores ? [ADVICE[reason]([...stores].join(', '), verification.receiptKeyId)] : []
  })
}

/**
 * The whole proof: the person's table, then one table per managed user and one for their contacts
 * by value, each headed by its verdict and set apart by a blank line, then what to do about each
 * reason a store could not be checked (that reason's advice, not another's). Ids only: never a value.
 */
export function formatDeletionVerification(verification: DeletionVerification): string {
  const { request, rows, managedUsers } = verification
  const blocks = [[`request ${request.id}: plan ${request.plan}, state ${request.state}`, `person ${request.userId}: ${verdict(rows)}`, formatVerification(rows)]]
  if (!managedUsers) blocks.push(['managed users: not checked (a soft deletion leaves them alone)'])
  else {
    blocks.push([`managed users: ${managedUsersSource(managedUsers)}`])
    for (const user of managedUsers.users) blocks.push([`managed user ${user.userId}: ${verdict(user.rows)}`, formatVerification(user.rows)])
    if (managedUsers.byValue.length > 0) blocks.push([`managed users by value (their contacts together): ${verdict(managedUsers.byValue)}`, formatVerification(managedUsers.byValue)])
  }
  const advice = adviceFor(verification)
  if (advice.length > 0) blocks.push(advice)
  return blocks.map((block) => block.join('\n')).join('\n\n')
}
