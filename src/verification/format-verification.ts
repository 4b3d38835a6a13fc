import type { DeletionVerification, ManagedUsersVerification } from './verify-deletion.js'
import type { VerificationRow } from './verify-user-stores.js'

/** The per-store table, aligned for a terminal. */
export function formatVerification(rowsToPrint: readonly VerificationRow[]): string {
  const header: VerificationRow & { result: string } = { store: 'store', expected: 'expected', found: 'found', residue: false, result: 'result' }
  const lines = [header, ...rowsToPrint.map((r) => ({ ...r, result: r.residue ? 'RESIDUE' : 'ok' }))]
  const width = (key: 'store' | 'expected' | 'found') => Math.max(...lines.map((line) => line[key].length))
  const [ws, we, wf] = [width('store'), width('expected'), width('found')]
  return lines.map((line) => `${line.store.padEnd(ws)}  ${line.expected.padEnd(we)}  ${line.found.padEnd(wf)}  ${line.result}`).join('\n')
}

const verdict = (rows: readonly VerificationRow[]) => (rows.some((row) => row.residue) ? 'RESIDUE' : 'ok')

/** Where the managed users' ids came from, so an operator can tell a recorded set from a guess. */
function managedUsersSource(managed: ManagedUsersVerification): string {
  const recorded = managed.recorded === undefined ? 'the deletion recorded no ids' : `${managed.recorded} recorded by the deletion`
  return `${managed.users.length} (${recorded}; ${managed.linkedOnly} found linked by managedby only)`
}

/**
 * The whole proof: the person's table, then one table per managed user and one for their contacts
 * by value, each headed by its verdict and set apart by a blank line. Ids only: never a value.
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
  return blocks.map((block) => block.join('\n')).join('\n\n')
}
