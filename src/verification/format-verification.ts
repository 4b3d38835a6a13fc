import { type DeletionVerification, type ManagedUsersVerification, hasUnchecked } from './verify-deletion.js'
import type { VerificationRow } from './verify-user-stores.js'

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

/**
 * The whole proof: the person's table, then one table per managed user and one for their contacts
 * by value, each headed by its verdict and set apart by a blank line, then what to do about a store
 * that could not be checked. Ids only: never a value.
 */
export function formatDeletionVerification(verification: DeletionVerification): string {
  const { request, receiptKeyId, rows, managedUsers } = verification
  const blocks = [[`request ${request.id}: plan ${request.plan}, state ${request.state}`, `person ${request.userId}: ${verdict(rows)}`, formatVerification(rows)]]
  if (!managedUsers) blocks.push(['managed users: not checked (a soft deletion leaves them alone)'])
  else {
    blocks.push([`managed users: ${managedUsersSource(managedUsers)}`])
    for (const user of managedUsers.users) blocks.push([`managed user ${user.userId}: ${verdict(user.rows)}`, formatVerification(user.rows)])
    if (managedUsers.byValue.length > 0) blocks.push([`managed users by value (their contacts together): ${verdict(managedUsers.byValue)}`, formatVerification(managedUsers.byValue)])
  }
  if (hasUnchecked(verification)) {
    blocks.push([
      `CANNOT CHECK by value: the contacts' hashes kept with the request were made with another key than the configured DELETION_RECEIPT_HASH_KEY (key id ${receiptKeyId}), or with one the request did not record. Run again with DELETION_RECEIPT_HASH_KEY set to the key whose id the lines name (docs/operating.md, "Changing the receipt key").`,
    ])
  }
  return blocks.map((block) => block.join('\n')).join('\n\n')
}
