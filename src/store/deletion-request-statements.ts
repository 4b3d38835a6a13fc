/** Every statement of CassandraDeletionRequests and its open list (OpenListRing), for one keyspace: the request tables' CQL in one place. */
export function deletionRequestStatements(keyspace: string) {
  const t = `${keyspace}.user_deletion_request`
  const open = `${keyspace}.user_deletion_request_open`
  const columns = 'id, userid, requestedby, state, plan, eraseplan, eraseat, steps, eventpublishedat, rootorgid, managedby, organisationids, createdat, updatedat, reason, receipt, cancelledby'
  // No `steps` (a null map reads as none): a collection written by an insert is a tombstone of the
  // whole map, which a compare-and-set stamps with the coordinator's clock, and it would shadow the
  // run's first step outcomes, stamped by this process a few milliseconds later, on a clock behind.
  const insert = `INSERT INTO ${t} (id, userid, requestedby, state, plan, eraseplan, eraseat, rootorgid, managedby, organisationids, leaseuntil, createdat, updatedat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  return {
    // A caller's id may be named by another create at the same time: only one of them may apply.
    create: `${insert} IF NOT EXISTS`,
    // An id this service generated is named by no other create: the same row, written plainly. So is
    // a derived id no earlier try can have created, stamped within its caller's lease (createFenced).
    createServiceId: insert,
    // The entry keeps what its request is created with, whole in one cell (a later write of the same
    // id replaces it, never merges with it), so the sweeper can create a request whose create never
    // applied (createFromEntry).
    open: `INSERT INTO ${open} (id, userid, createdat, request) VALUES (?, ?, ?, ?)`,
    // An entry that keeps no request: a fenced create's (its batch job settles the item, and a create
    // from the entry could meet the job's own fenced create) and a reopened request's (its row exists).
    list: `INSERT INTO ${open} (id, userid, createdat) VALUES (?, ?, ?)`,
    kept: `SELECT userid, createdat, request FROM ${open} WHERE id = ?`,
    entry: `SELECT userid, createdat, dueat FROM ${open} WHERE id = ?`,
    // The caller of a create whose entry's write failed hears "retry": what a landed entry kept goes.
    withdraw: `DELETE request FROM ${open} WHERE id = ?`,
    get: `SELECT ${columns} FROM ${t} WHERE id = ?`,
    receipt: `SELECT receipt FROM ${t} WHERE id = ?`,
    closed: `SELECT state, leaseuntil FROM ${t} WHERE id = ?`,
    listed: `SELECT id FROM ${open} WHERE id = ?`,
    created: `SELECT userid, createdat FROM ${t} WHERE id = ?`,
    byUser: `SELECT ${columns} FROM ${t} WHERE userid = ?`,
    lease: `UPDATE ${t} SET leaseuntil = ? WHERE id = ? IF leaseuntil < ?`,
    release: `UPDATE ${t} SET leaseuntil = ? WHERE id = ?`,
    // The same write as release: the lease alone, set to the renewed end (past the lease, `IF leaseuntil = ?` is added).
    renew: `UPDATE ${t} SET leaseuntil = ? WHERE id = ?`,
    confirm: `UPDATE ${t} SET leaseuntil = ? WHERE id = ? IF leaseuntil = ?`,
    steps: `UPDATE ${t} SET steps = steps + ?, state = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`,
    finish: `UPDATE ${t} SET steps = steps + ?, state = ?, reason = ?, receipt = ?, leaseuntil = ?, updatedat = ? WHERE id = ?`,
    plan: `UPDATE ${t} SET plan = ?, state = ?, updatedat = ? WHERE id = ?`,
    reopen: `UPDATE ${t} SET state = ?, updatedat = ?, cancelledby = ? WHERE id = ?`,
    canceller: `UPDATE ${t} SET cancelledby = ? WHERE id = ?`,
    due: `UPDATE ${open} SET dueat = ? WHERE id = ?`,
    close: `DELETE FROM ${open} WHERE id = ?`,
    // The sweeper goes round the list: from where its last pass stopped to the end, then from the start.
    listOpenAfter: `SELECT token(id) AS place, id, userid, createdat, dueat FROM ${open} WHERE token(id) > ?`,
    listOpenUpTo: `SELECT token(id) AS place, id, userid, createdat, dueat FROM ${open} WHERE token(id) <= ?`,
    eventPublished: `UPDATE ${t} SET eventpublishedat = ? WHERE id = ?`,
  }
}

export type DeletionRequestStatements = ReturnType<typeof deletionRequestStatements>
