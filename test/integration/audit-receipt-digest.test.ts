import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import type { DeletionReceipt } from '../../src/deletion/deletion-request.js'
import type { AuditRecord } from '../../src/deletion/ports.js'
import { receiptSha256 } from '../../src/deletion/receipt-digest.js'
import { expectDeleted } from '../support/assertions.js'
import { runAuditVerify } from '../support/audit-verify-cli.js'
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

let h: Harness
beforeAll(async () => {
  h = await startHarness()
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

  it('when --receipt names a request that does not exist, then there is no verdict: exit 2 with one line that does not repeat the id', async () => {
    const run = await runAuditVerify(['--chain', h.service.audit.currentChain, '--receipt', 'someone@example.org'], cronEnv)

    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr.trim().split('\n')).toEqual(['audit:verify: of the requests named with --receipt, 1 has no deletion request (check the id)'])
  }, 60_000)
})
