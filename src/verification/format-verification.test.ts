import { describe, expect, it } from 'vitest'
import { formatDeletionVerification } from './format-verification.js'
import type { DeletionVerification } from './verify-deletion.js'
import type { VerificationRow } from './verify-user-stores.js'

// The closing advice of `npm run deletion:verify` when it exits 3: each line says what made its
// stores unchecked, and only the reasons present get a line.

const PERSON = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const CHILD = '6a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d42'
const CONFIGURED_KEY_ID = 'aaaaaaaaaaaaaaaa'

const notConfigured = (store: string, unchecked: 'search not configured' | 'cache not configured'): VerificationRow => ({
  store,
  expected: 'checked',
  found: 'not configured here, though the deletion reached it',
  residue: false,
  unchecked,
})
const SEARCH_AND_CACHE_UNCHECKED = [
  notConfigured('search.user_alias', 'search not configured'),
  notConfigured('search.usernotes', 'search not configured'),
  notConfigured('redis.user', 'cache not configured'),
]
const OTHER_KEY: VerificationRow = {
  store: 'cassandra.otp (by value)',
  expected: '0 rows',
  found: 'cannot check: made with another key (key id 0123456789abcdef)',
  residue: false,
  unchecked: 'other key',
}
const CLEAN_BY_VALUE: VerificationRow = { store: 'cassandra.otp (by value)', expected: '0 rows', found: '0 rows', residue: false }

function verification(rows: VerificationRow[], managedRows: VerificationRow[] = []): DeletionVerification {
  return {
    request: {
      id: 'req-advice',
      userId: PERSON,
      requestedBy: PERSON,
      state: 'completed',
      plan: 'hard',
      steps: {},
      target: { rootOrgId: 'org-1', managedBy: null, organisationIds: [] },
      createdAt: new Date(0),
      updatedAt: new Date(0),
    },
    receiptKeyId: CONFIGURED_KEY_ID,
    rows,
    managedUsers: { recorded: 1, linkedOnly: 0, users: [{ userId: CHILD, rows: managedRows }], byValue: [] },
  }
}

/** The advice block: the lines after the last table (each starts with CANNOT CHECK). */
const adviceOf = (printed: string) => printed.split('\n').filter((line) => line.startsWith('CANNOT CHECK'))

describe('deletion:verify’s closing advice says what made each store unchecked', () => {
  it('when the search engine and Redis are not configured here (by-value lines fine), then the advice names sunbird_es_host and sunbird_redis_host and their stores, and says nothing of the receipt key', () => {
    const printed = formatDeletionVerification(verification([...SEARCH_AND_CACHE_UNCHECKED, CLEAN_BY_VALUE], SEARCH_AND_CACHE_UNCHECKED))

    const advice = adviceOf(printed)
    expect(advice).toHaveLength(2)
    expect(advice[0]).toMatch(/^CANNOT CHECK search\.user_alias, search\.usernotes: the deletion reached the search engine, .*Run again with sunbird_es_host/)
    expect(advice[1]).toMatch(/^CANNOT CHECK redis\.user: the deletion reached Redis, .*Run again with sunbird_redis_host/)
    expect(printed).not.toContain('DELETION_RECEIPT_HASH_KEY')
    expect(printed).not.toContain('by value:')
  })

  it('when only the contacts’ hashes were made with another key, then the one advice line is the key’s, naming the configured key id', () => {
    const printed = formatDeletionVerification(verification([OTHER_KEY]))

    expect(adviceOf(printed)).toEqual([
      `CANNOT CHECK by value: the contacts' hashes kept with the request were made with another key than the configured DELETION_RECEIPT_HASH_KEY (key id ${CONFIGURED_KEY_ID}). Run again with DELETION_RECEIPT_HASH_KEY set to the key whose id the lines name (docs/operating.md, "Changing the receipt key").`,
    ])
    expect(printed).not.toMatch(/sunbird_es_host|sunbird_redis_host/)
  })

  it('when the request did not record the key, then the advice says so rather than claiming another key made them', () => {
    const printed = formatDeletionVerification(verification([{ ...OTHER_KEY, found: 'cannot check: key not recorded', unchecked: 'key not recorded' }]))

    const advice = adviceOf(printed)
    expect(advice).toHaveLength(1)
    expect(advice[0]).toMatch(/^CANNOT CHECK by value: the request did not record which key made its contacts' hashes/)
    expect(advice[0]).not.toContain('made with another key')
  })

  it('when an ERASURE_EXTRA_TARGETS table is missing, then the advice says to correct that setting, naming the table', () => {
    const missing: VerificationRow = { store: 'cassandra.sunbird_courses.user_enrolments', expected: '0 rows', found: 'table not found', residue: false, unchecked: 'table not found' }

    const advice = adviceOf(formatDeletionVerification(verification([missing])))

    expect(advice).toHaveLength(1)
    expect(advice[0]).toMatch(/^CANNOT CHECK cassandra\.sunbird_courses\.user_enrolments: ERASURE_EXTRA_TARGETS names a table that does not exist/)
    expect(advice[0]).not.toContain('DELETION_RECEIPT_HASH_KEY')
  })

  it('when several reasons are present, then each has its own line, once, whoever’s stores they were', () => {
    const printed = formatDeletionVerification(verification([notConfigured('redis.user', 'cache not configured'), OTHER_KEY], [notConfigured('redis.user', 'cache not configured')]))

    const advice = adviceOf(printed)
    expect(advice).toHaveLength(2)
    expect(advice[0]).toContain('DELETION_RECEIPT_HASH_KEY')
    expect(advice[1]).toMatch(/^CANNOT CHECK redis\.user: .*sunbird_redis_host/)
  })

  it('when every store could be checked, then there is no advice', () => {
    expect(adviceOf(formatDeletionVerification(verification([CLEAN_BY_VALUE])))).toEqual([])
  })
})
