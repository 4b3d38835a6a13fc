import { createHash, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import type { DeletionReceipt } from '../../src/deletion/deletion-request.js'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import type { AuditRecord, IdentityProvider } from '../../src/deletion/ports.js'
import { receiptSha256 } from '../../src/deletion/receipt-digest.js'
import { CassandraAuditReader, type ChainVerdict } from '../../src/store/cassandra-audit-trail.js'
import { CassandraDeletionRequests } from '../../src/store/cassandra-deletion-requests.js'
import { type TrailAnswer, verifyTrailWithReceipts } from '../../src/verification/trail-with-receipts.js'
import { expectDeleted } from '../support/assertions.js'
import { runAuditVerify } from '../support/audit-verify-cli.js'
import { failWhen, withFaults } from '../support/faults.js'
import { type Harness, startHarness } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'

// A deletion's end record commits to the receipt stored on its request (detail.receiptSha256), on
// the real Cassandra, and `npm run audit:verify -- --receipt <id>` holds the stored receipt against
// it: a receipt edited in the request row afterwards is reported. Each test walks only this
// harness's chain (other tests tamper with chains of their own in the same keyspace).

const REQUESTS = `${TEST_KEYSPACE}.user_deletion_request`

/** What a scheduled job on a production host has: the Cassandra settings, no receipt key, no API consumers file. */
const cronEnv = {
  NODE_ENV: 'production',
  NODE_CONFIG_ENV: undefined,
  CASSANDRA_KEYSPACE: TEST_KEYSPACE,
  DELETION_RECEIPT_HASH_KEY: undefined,
  API_BEARER_CONSUMERS_FILE: join(projectRoot, 'no-such-dir', 'api-consumers.json'),
}

/** Users whose Keycloak calls fail as when it is down: their deletion ends partial, the keycloak step owed. */
const keycloakDownFor = new Set<string>()
const failingIdentityFor = (identity: IdentityProvider): IdentityProvider =>
  withFaults(
    identity,
    failWhen(
      (_method, args) => keycloakDownFor.has(args[0] as string),
      () => new DependencyUnavailableError('keycloak'),
    ),
  )

let h: Harness
beforeAll(async () => {
  h = await startHarness({}, { identity: failingIdentityFor })
})
afterAll(async () => {
  await h?.close()
})

/** A user's own deletion run to its end through the Sunbird route. */
async function completedDeletion(): Promise<{ requestId: string }> {
  const user = await h.seed()
  const requestId = `receipt-digest-${randomUUID()}`
  await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
  return { requestId }
}

/**
 * A user's own deletion left partial by Keycloak being down: its deletion.partial record and its
 * partial receipt stored. Taken off the open list, so no sweep (of this or another test file's
 * service) settles it further while the test shapes what a later pass left.
 */
async function partialDeletion(): Promise<{ requestId: string; userId: string; partial: DeletionReceipt }> {
  const user = await h.seed()
  const requestId = `receipt-digest-${randomUUID()}`
  keycloakDownFor.add(user.id)
  try {
    await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
  } finally {
    keycloakDownFor.delete(user.id)
  }
  await h.db.execute(`DELETE FROM ${TEST_KEYSPACE}.user_deletion_request_open WHERE id = ?`, [requestId], { prepare: true })
  const partial = JSON.parse(await storedReceiptText(requestId)) as DeletionReceipt
  expect(partial.state).toBe('partial')
  return { requestId, userId: user.id, partial }
}

/** A record of the request as the service writes it, on this harness's chain. */
function appendRecord(requestId: string, userId: string, event: AuditRecord['event'], receipt: DeletionReceipt): Promise<void> {
  return h.service.audit.append({ event, requestId, userId, requestedBy: userId, at: new Date().toISOString(), detail: { receiptSha256: receiptSha256(receipt) } })
}

/**
 * audit:verify --chain <this harness's chain> --receipt <id>, in-process (as scripts/audit-verify.ts
 * runs it), with `during` wrapped around the walk: it runs after the receipts were read, and the
 * walk it is given is the real one over that chain.
 */
function verifyWhile(requestId: string, during: (walk: () => Promise<ChainVerdict>) => Promise<ChainVerdict>): Promise<TrailAnswer> {
  const requests = new CassandraDeletionRequests(h.db, TEST_KEYSPACE)
  const reader = new CassandraAuditReader(h.db, TEST_KEYSPACE)
  return verifyTrailWithReceipts([requestId], {
    receiptText: (id) => requests.receiptText(id),
    walk: (observe) => during(() => reader.verify({ chains: [h.service.audit.currentChain], ...(observe && { observe }) })),
  })
}

/** The receipt column of a request, as stored. */
async function storedReceiptText(requestId: string): Promise<string> {
  const row = (await h.db.execute(`SELECT receipt FROM ${REQUESTS} WHERE id = ?`, [requestId], { prepare: true })).first()
  return row?.get('receipt') as string
}

describe('an audit record commits to the receipt it settled, on the real Cassandra', () => {
  it('when a deletion completes, then its deletion.completed record carries the SHA-256 of the receipt stored on its request', async () => {
    const { requestId } = await completedDeletion()

    const rows = (await h.db.execute(`SELECT record FROM ${TEST_KEYSPACE}.user_deletion_audit WHERE chain = ?`, [h.service.audit.currentChain], { prepare: true })).rows
    const records = rows.map((row) => JSON.parse(row.get('record') as string) as AuditRecord).filter((record) => record.requestId === requestId)
    const stored = JSON.parse(await storedReceiptText(requestId))

    expect(records.map((record) => record.event)).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(records[1]?.detail).toEqual({ receiptSha256: receiptSha256(stored) })
  })

  it('when the stored receipt is edited after its record, then audit:verify --receipt exits 1 naming both digests, where it exited 0 before', async () => {
    // Arrange: a completed deletion, checked while its receipt is as audited.
    const { requestId } = await completedDeletion()
    const chain = h.service.audit.currentChain
    const original = await storedReceiptText(requestId)
    const intact = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)

    // Act: one entry of the stored receipt rewritten (a store said kept instead of deleted).
    const receipt = JSON.parse(original) as DeletionReceipt
    const edited: DeletionReceipt = { ...receipt, stores: receipt.stores.map((entry) => (entry.store === 'cassandra.user_lookup' ? { ...entry, action: 'kept' } : entry)) }
    const update = `UPDATE ${REQUESTS} SET receipt = ? WHERE id = ?`
    await h.db.execute(update, [JSON.stringify(edited), requestId], { prepare: true })
    let tampered: Awaited<ReturnType<typeof runAuditVerify>>
    try {
      tampered = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)
    } finally {
      await h.db.execute(update, [original, requestId], { prepare: true })
    }

    // Assert
    expect(intact.stderr).toBe('')
    expect(intact.code).toBe(0)
    const audited = receiptSha256(JSON.parse(original))
    expect(JSON.parse(intact.stdout)).toMatchObject({
      ok: true,
      chains: 1,
      receipts: [{ requestId, matches: true, storedSha256: audited, auditedSha256: audited, event: 'deletion.completed', chain }],
    })
    expect(tampered.code).toBe(1)
    expect(JSON.parse(tampered.stdout)).toMatchObject({
      ok: false,
      chains: 1,
      receipts: [{ requestId, matches: false, storedSha256: receiptSha256(edited), auditedSha256: audited, event: 'deletion.completed', chain }],
    })
    // Digests only: no receipt is printed.
    expect(tampered.stdout).not.toContain('cassandra.user_lookup')
  }, 120_000)

  it('when the stored receipt is edited into text that is not JSON, then audit:verify --receipt exits 1 (a mismatch naming its record), not 2 (no verdict)', async () => {
    // Arrange: a completed deletion, its stored receipt cut short (no longer JSON).
    const { requestId } = await completedDeletion()
    const chain = h.service.audit.currentChain
    const original = await storedReceiptText(requestId)
    const broken = original.slice(0, original.length - 1)
    const update = `UPDATE ${REQUESTS} SET receipt = ? WHERE id = ?`
    await h.db.execute(update, [broken, requestId], { prepare: true })
    let run: Awaited<ReturnType<typeof runAuditVerify>>
    try {
      // Act
      run = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)
    } finally {
      await h.db.execute(update, [original, requestId], { prepare: true })
    }

    // Assert: the receipt's digest is that of its stored text; the record it contradicts is named.
    expect(run.stderr).toBe('')
    expect(run.code).toBe(1)
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: false,
      receipts: [
        {
          requestId,
          matches: false,
          storedSha256: createHash('sha256').update(broken, 'utf8').digest('hex'),
          auditedSha256: receiptSha256(JSON.parse(original)),
          event: 'deletion.completed',
          chain,
        },
      ],
    })
    expect(run.stdout).not.toContain('cassandra.user_lookup')
  }, 120_000)

  it('when a request that was partial, then completed, has its earlier partial receipt put back, then audit:verify --receipt exits 1 naming its deletion.completed, though the partial record carries that digest', async () => {
    // Arrange: a deletion left partial (Keycloak down), then completed by a resume once Keycloak answers.
    const user = await h.seed()
    const requestId = `receipt-digest-${randomUUID()}`
    keycloakDownFor.add(user.id)
    try {
      await expectDeleted(await h.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': h.userToken({ sub: user.id }), 'x-request-id': requestId }))
    } finally {
      keycloakDownFor.delete(user.id)
    }
    const partial = await storedReceiptText(requestId)
    expect(JSON.parse(partial)).toMatchObject({ state: 'partial' })
    await h.service.resumeRequest(requestId)
    const completed = await storedReceiptText(requestId)
    expect(JSON.parse(completed)).toMatchObject({ state: 'completed' })
    const chain = h.service.audit.currentChain
    const update = `UPDATE ${REQUESTS} SET receipt = ? WHERE id = ?`

    // Act: the earlier, audited, partial receipt stored in place of the completed one.
    await h.db.execute(update, [partial, requestId], { prepare: true })
    let swapped: Awaited<ReturnType<typeof runAuditVerify>>
    try {
      swapped = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)
    } finally {
      await h.db.execute(update, [completed, requestId], { prepare: true })
    }
    const restored = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)

    // Assert
    expect(swapped.code).toBe(1)
    expect(JSON.parse(swapped.stdout)).toMatchObject({
      ok: false,
      receipts: [{ requestId, matches: false, storedSha256: receiptSha256(JSON.parse(partial)), auditedSha256: receiptSha256(JSON.parse(completed)), event: 'deletion.completed', chain }],
    })
    expect(restored.code).toBe(0)
    expect(JSON.parse(restored.stdout)).toMatchObject({ ok: true, receipts: [{ requestId, matches: true, event: 'deletion.completed' }] })
  }, 120_000)

  it("when another deletion's audited receipt is stored on a request, then audit:verify --receipt exits 1: a digest counts only in the records of its own request", async () => {
    // Arrange: two completed deletions, each with its audited receipt (an earlier deletion of the same
    // user is such another request: its receipt names its own request id).
    const { requestId: first } = await completedDeletion()
    const { requestId: second } = await completedDeletion()
    const chain = h.service.audit.currentChain
    const own = await storedReceiptText(second)
    const other = await storedReceiptText(first)
    const update = `UPDATE ${REQUESTS} SET receipt = ? WHERE id = ?`

    // Act
    await h.db.execute(update, [other, second], { prepare: true })
    let swapped: Awaited<ReturnType<typeof runAuditVerify>>
    try {
      swapped = await runAuditVerify(['--chain', chain, '--receipt', second], cronEnv)
    } finally {
      await h.db.execute(update, [own, second], { prepare: true })
    }

    // Assert
    expect(swapped.code).toBe(1)
    expect(JSON.parse(swapped.stdout)).toMatchObject({
      ok: false,
      receipts: [{ requestId: second, matches: false, storedSha256: receiptSha256(JSON.parse(other)), auditedSha256: receiptSha256(JSON.parse(own)), event: 'deletion.completed' }],
    })
  }, 120_000)

  it('when --receipt names a request that does not exist, then there is no verdict: exit 2 with one line that does not repeat the id', async () => {
    const run = await runAuditVerify(['--chain', h.service.audit.currentChain, '--receipt', 'someone@example.org'], cronEnv)

    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr.trim().split('\n')).toEqual(['audit:verify: of the requests named with --receipt, 1 has no deletion request (check the id)'])
  }, 60_000)

  it('when a partial request completed and its deletion.completed is not yet stored (in flight, or owed to the sweeper), then exit 2 saying it may be owed, and exit 0 once it is stored', async () => {
    // Arrange: the finish of the completing pass stored its receipt (and state) before its record.
    const { requestId, userId, partial } = await partialDeletion()
    const chain = h.service.audit.currentChain
    const completed: DeletionReceipt = { ...partial, state: 'completed', stores: partial.stores.map((entry) => (entry.store === 'keycloak' ? { ...entry, action: 'deleted' } : entry)) }
    await h.db.execute(`UPDATE ${REQUESTS} SET state = 'completed', receipt = ? WHERE id = ?`, [JSON.stringify(completed), requestId], { prepare: true })

    // Act
    const owed = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)
    await appendRecord(requestId, userId, 'deletion.completed', completed)
    const stored = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)

    // Assert: not a mismatch against the partial record (no tampering is reported) ...
    expect(owed.code).toBe(2)
    expect(owed.stdout).toBe('')
    expect(owed.stderr).toMatch(/^audit:verify: of the requests named with --receipt, 1 has no record with its receipt's digest in the chains walked \(its deletion.completed may still be owed/)
    // ... and the owed record, once stored, is the one it matches.
    expect(stored.stderr).toBe('')
    expect(stored.code).toBe(0)
    expect(JSON.parse(stored.stdout)).toMatchObject({ ok: true, receipts: [{ requestId, matches: true, storedSha256: receiptSha256(completed), event: 'deletion.completed', chain }] })
  }, 120_000)

  it('when a partial request completes during the walk, after its partial receipt was read, then the receipt is read again and its deletion.completed, walked, matches it: not a mismatch', async () => {
    // Arrange: a deletion left partial (Keycloak down); Keycloak answers again.
    const { requestId } = await partialDeletion()

    // Act: the sweeper's retry completes it once the receipts are read, before the walk reaches its chain.
    const answer = await verifyWhile(requestId, async (walk) => {
      await h.service.resumeRequest(requestId)
      return walk()
    })

    // Assert
    const completed = JSON.parse(await storedReceiptText(requestId)) as DeletionReceipt
    expect(completed.state).toBe('completed')
    expect(answer).toMatchObject({
      verdict: { ok: true, receipts: [{ requestId, matches: true, storedSha256: receiptSha256(completed), auditedSha256: receiptSha256(completed), event: 'deletion.completed' }] },
    })
  }, 120_000)

  it('when a mismatching receipt is replaced during the walk by a settle whose record lands on a chain already walked, then there is no verdict, saying it settled during the walk: the receipt stored now is judged, not the one read', async () => {
    // Arrange: a partial deletion whose stored receipt was edited (its owed Keycloak line said deleted).
    const { requestId, partial } = await partialDeletion()
    const edited: DeletionReceipt = { ...partial, stores: partial.stores.map((entry) => (entry.store === 'keycloak' ? { ...entry, action: 'deleted' } : entry)) }
    await h.db.execute(`UPDATE ${REQUESTS} SET receipt = ? WHERE id = ?`, [JSON.stringify(edited), requestId], { prepare: true })

    // Act: the sweeper's retry completes it (storing its completed receipt) once the walk has passed the chain it appends to.
    const answer = await verifyWhile(requestId, async (walk) => {
      const walked = await walk()
      await h.service.resumeRequest(requestId)
      return walked
    })
    const again = await verifyWhile(requestId, (walk) => walk())

    // Assert: run again, not a mismatch of a receipt no longer stored; run again, it matches.
    expect(answer).toEqual({
      noVerdict:
        "of the requests named with --receipt, 1 settled during the walk (its stored receipt changed while the chains were walked, and no record walked carries the new one's digest): run it again",
    })
    expect(again).toMatchObject({ verdict: { ok: true, receipts: [{ requestId, matches: true, event: 'deletion.completed' }] } })
  }, 120_000)

  it('when a later pass appended a partial record whose finish failed and the request kept its earlier receipt, then the kept receipt matches its own record; edited, it does not', async () => {
    // Arrange: a later pass owing more stores audited a receipt that was never stored (its finish failed);
    // the next pass owed the same stores as the stored receipt, and kept it.
    const { requestId, userId, partial } = await partialDeletion()
    const chain = h.service.audit.currentChain
    const neverStored: DeletionReceipt = {
      ...partial,
      completedAt: new Date().toISOString(),
      stores: partial.stores.map((entry) => (entry.store === 'cassandra.user_lookup' ? { ...entry, action: 'pending' } : entry)),
    }
    await appendRecord(requestId, userId, 'deletion.partial', neverStored)
    const kept = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)

    // Act: the kept receipt edited (its owed Keycloak line said deleted).
    const edited: DeletionReceipt = { ...partial, stores: partial.stores.map((entry) => (entry.store === 'keycloak' ? { ...entry, action: 'deleted' } : entry)) }
    await h.db.execute(`UPDATE ${REQUESTS} SET receipt = ? WHERE id = ?`, [JSON.stringify(edited), requestId], { prepare: true })
    const tampered = await runAuditVerify(['--chain', chain, '--receipt', requestId], cronEnv)

    // Assert
    expect(kept.stderr).toBe('')
    expect(kept.code).toBe(0)
    expect(JSON.parse(kept.stdout)).toMatchObject({
      ok: true,
      receipts: [{ requestId, matches: true, storedSha256: receiptSha256(partial), auditedSha256: receiptSha256(partial), event: 'deletion.partial', chain }],
    })
    expect(tampered.code).toBe(1)
    expect(JSON.parse(tampered.stdout)).toMatchObject({
      ok: false,
      receipts: [{ requestId, matches: false, storedSha256: receiptSha256(edited), auditedSha256: receiptSha256(neverStored), event: 'deletion.partial' }],
    })
  }, 120_000)
})
