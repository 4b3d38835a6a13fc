import { errors as cassandraErrors, types } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { whyNotVerified } from '../../src/verification/deletion-verify-command.js'

// The one line deletion:verify, audit:verify and deletion:resume print when Cassandra refuses a
// query: its kind and, for the refusals an operator can act on, what to do; never Cassandra's words.

const invalid = (message: string) => new cassandraErrors.ResponseError(types.responseErrorCodes.invalid, message)

describe('whyNotVerified, when Cassandra answers that a query is invalid', () => {
  it.each(['keyspace no_such_ks does not exist', "Keyspace 'no_such_ks' does not exist"])(
    'when the keyspace is not there (%j), then it says to check CASSANDRA_KEYSPACE or migrate, without naming the keyspace',
    (message) => {
      expect(whyNotVerified(invalid(message))).toBe('cassandra refused a query (invalid): no keyspace of that name: check CASSANDRA_KEYSPACE, or create it with npm run db:migrate')
    },
  )

  it.each(['table deletion_request does not exist', 'unconfigured table deletion_request', 'Undefined column name kid in table ks.deletion_request'])(
    'when a table or column is not there (%j), then it says to run db:migrate, without naming it',
    (message) => {
      expect(whyNotVerified(invalid(message))).toBe('cassandra refused a query (invalid): a table or column this build reads is missing: run npm run db:migrate')
    },
  )

  it('when the refusal is anything else, then only its kind is said, not its message', () => {
    expect(whyNotVerified(invalid("line 1:0 no viable alternative at input 'x@example.org'"))).toBe('cassandra refused a query (invalid)')
  })
})
