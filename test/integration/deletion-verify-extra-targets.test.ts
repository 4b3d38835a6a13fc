import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExtraTarget } from '../../src/deletion/ports.js'
import { expectDeleted } from '../support/assertions.js'
import { requestsOf } from '../support/deletion-requests.js'
import { type Harness, startHarness } from '../support/harness.js'
import { lifecycle } from '../support/lifecycle.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { runDeletionVerify } from '../support/deletion-verify-cli.js'

// `npm run deletion:verify` on an ERASURE_EXTRA_TARGETS table of the real Cassandra: a column the
// target blanks is re-read (a value back is residue, never printed), and a target whose table or
// column is not there cannot pass. Its other stores: test/integration/erasure-everywhere.test.ts.

const TABLE = 'verify_extra_feedback'
const FEEDBACK = { keyspace: TEST_KEYSPACE, table: TABLE, userColumn: 'userid', action: 'blank', columns: ['note'] } as const satisfies ExtraTarget
const NOTE = 'Ashwini prefers calls on 7000000001'

describe('npm run deletion:verify on an ERASURE_EXTRA_TARGETS table that blanks columns, on the real Cassandra', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ deletion: { extraTargets: [FEEDBACK] } })
    await h.db.execute(`CREATE TABLE IF NOT EXISTS ${TEST_KEYSPACE}.${TABLE} (id text PRIMARY KEY, userid text, note text)`)
  })
  afterAll(async () => {
    await h.close()
  })

  /** `npm run deletion:verify -- <requestId>` as an operator runs it, with `targets` as its ERASURE_EXTRA_TARGETS. */
  const verifyCommand = (requestId: string, targets: readonly ExtraTarget[]) => runDeletionVerify(requestId, { ERASURE_EXTRA_TARGETS: JSON.stringify(targets) })

  /** A user with two feedback rows holding a note, deleted (Sunbird's deletion, which blanks the note); the request's id. */
  async function deletedWithFeedback(): Promise<{ userId: string; requestId: string }> {
    const user = await h.seed()
    for (const n of [1, 2]) {
      await h.db.execute(`INSERT INTO ${TEST_KEYSPACE}.${TABLE} (id, userid, note) VALUES (?, ?, ?)`, [`${user.id}-${n}`, user.id, NOTE], { prepare: true })
    }
    await expectDeleted(await lifecycle(h).remove(user.id, {}, lifecycle(h).asUser(user.id)))
    const [request] = await requestsOf(h.db, user.id)
    expect(request?.state).toBe('completed')
    return { userId: user.id, requestId: request?.id ?? '' }
  }

  it('when the deletion blanked the note, then the line re-reads it: 0 rows with a value, exit 0; when a note comes back, then that row is residue, exit 1, and the note is not printed', async () => {
    const { userId, requestId } = await deletedWithFeedback()

    const clean = verifyCommand(requestId, [FEEDBACK])
    expect(clean.status, clean.stderr + clean.stdout).toBe(0)
    expect(clean.stdout).toMatch(new RegExp(`cassandra\\.${TEST_KEYSPACE}\\.${TABLE}\\s+note blank\\s+0 rows of 2 with a value\\s+ok`))

    await h.db.execute(`UPDATE ${TEST_KEYSPACE}.${TABLE} SET note = ? WHERE id = ?`, [NOTE, `${userId}-2`], { prepare: true })

    const dirty = verifyCommand(requestId, [FEEDBACK])
    expect(dirty.status, dirty.stderr + dirty.stdout).toBe(1)
    expect(dirty.stdout).toMatch(new RegExp(`cassandra\\.${TEST_KEYSPACE}\\.${TABLE}\\s+note blank\\s+1 row of 2 with a value\\s+RESIDUE`))
    expect(dirty.stdout + dirty.stderr).not.toContain(NOTE)
  }, 90_000)

  it('when ERASURE_EXTRA_TARGETS names a table, a column or a user column that does not exist, then its line cannot be checked (never ok), the closing advice names ERASURE_EXTRA_TARGETS, and the exit code is 3', async () => {
    const { requestId } = await deletedWithFeedback()
    const missingTable: ExtraTarget = { keyspace: TEST_KEYSPACE, table: 'no_such_feedback', userColumn: 'userid', action: 'delete' }
    const missingColumn: ExtraTarget = { ...FEEDBACK, columns: ['nickname'] }
    const missingUserColumn: ExtraTarget = { ...FEEDBACK, userColumn: 'owner' }

    const cli = verifyCommand(requestId, [missingTable, missingColumn, missingUserColumn])

    expect(cli.status, cli.stderr + cli.stdout).toBe(3)
    expect(cli.stdout).toMatch(new RegExp(`cassandra\\.${TEST_KEYSPACE}\\.no_such_feedback\\s+0 rows\\s+table not found\\s+CANNOT CHECK`))
    expect(cli.stdout).toMatch(new RegExp(`cassandra\\.${TEST_KEYSPACE}\\.${TABLE}\\s+nickname blank\\s+a column named is not in the table\\s+CANNOT CHECK`))
    expect(cli.stdout).toMatch(new RegExp(`cassandra\\.${TEST_KEYSPACE}\\.${TABLE}\\s+note blank\\s+a column named is not in the table\\s+CANNOT CHECK`))
    expect(cli.stdout).toContain(`CANNOT CHECK cassandra.${TEST_KEYSPACE}.no_such_feedback: ERASURE_EXTRA_TARGETS names a table that does not exist`)
    expect(cli.stdout).toMatch(/CANNOT CHECK .*: a column ERASURE_EXTRA_TARGETS names for it/)
    expect(cli.stdout).not.toContain('DELETION_RECEIPT_HASH_KEY')
  }, 90_000)
})
