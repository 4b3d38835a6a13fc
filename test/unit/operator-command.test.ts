import { errors as searchErrors } from '@opensearch-project/opensearch'
import { errors as cassandraErrors } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { OPERATOR_EXIT, runWithoutArguments } from '../../scripts/lib/operator-command.js'
import { ConfigError } from '../../src/config/load-config.js'
import { DependencyUnavailableError, WordedCause } from '../../src/deletion/errors.js'
import { addColumn, ColumnTypeMismatchError } from '../../src/store/column-addition.js'
import { MigrationLockError } from '../../src/store/migration-lock.js'

async function run(args: string[], work: () => Promise<void>) {
  const lines: string[] = []
  const printed: string[] = []
  let worked = false
  const code = await runWithoutArguments(
    'db:migrate',
    args,
    async () => {
      worked = true
      await work()
    },
    (line) => lines.push(line),
    (line) => printed.push(line),
  )
  return { code, lines, worked, printed }
}

describe('runWithoutArguments (db:migrate, db:seed, search:migrate)', () => {
  it('when the work is done, then exit 0 and nothing on stderr', async () => {
    expect(await run([], async () => {})).toEqual({ code: OPERATOR_EXIT.ok, lines: [], worked: true, printed: [] })
  })

  it.each([[['--help']], [['-h']]])('when it is given %j, then the usage is printed on stdout, exit 0, and nothing is done', async (args) => {
    expect(await run(args, async () => {})).toEqual({ code: OPERATOR_EXIT.ok, lines: [], worked: false, printed: ['usage: npm run db:migrate'] })
  })

  it.each([[['--bogus']], [['--keyspace', 'x']], [['extra']], [['--']]])('when it is given %j, then exit 2 with the usage, and nothing is done', async (args) => {
    const { code, lines, worked } = await run(args, async () => {})

    expect(code).toBe(OPERATOR_EXIT.badArguments)
    expect(lines).toEqual(['db:migrate: takes no arguments\nusage: npm run db:migrate'])
    expect(worked).toBe(false)
  })

  it.each([
    [
      'Cassandra unreachable',
      new cassandraErrors.NoHostAvailableError({ '127.0.0.1:9599': new Error('connect ECONNREFUSED learner@example.org') }),
      'db:migrate: cassandra unreachable (no host answered)',
    ],
    ['a setting refused', new ConfigError('invalid configuration:\n  /cassandra/keyspace must match pattern'), 'db:migrate: invalid configuration: /cassandra/keyspace must match pattern'],
    [
      'the search engine unreachable',
      new searchErrors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9599 learner@example.org'),
      'db:migrate: search unavailable: sunbird_es_host unreachable (ConnectionError)',
    ],
    [
      'the search engine refusing',
      new searchErrors.ResponseError({ body: { error: 'learner@example.org' }, statusCode: 400, headers: {}, meta: {} as never, warnings: null } as never),
      'db:migrate: search refused a request (HTTP 400)',
    ],
    ['a timeout of another client (Keycloak)', new DOMException('The operation was aborted due to timeout learner@example.org', 'TimeoutError'), 'db:migrate: unexpected TimeoutError'],
    [
      'the local Keycloak not answering',
      new DependencyUnavailableError('keycloak', { cause: new WordedCause('the local Keycloak did not answer (sunbird_sso_url)') }),
      'db:migrate: keycloak unavailable: the local Keycloak did not answer (sunbird_sso_url)',
    ],
    [
      'not a search engine',
      new DependencyUnavailableError('search', { cause: new WordedCause('sunbird_es_host does not answer as a search engine (its root tells no version)') }),
      'db:migrate: search unavailable: sunbird_es_host does not answer as a search engine (its root tells no version)',
    ],
    [
      'the migration lock held by another run past the wait',
      new MigrationLockError('the migration lock (sunbird.schema_migration_lock) is still held by deploy-a/pid 41/0c1d2e3f since 2026-12-06T16:00:00.000Z after waiting 600 s'),
      'db:migrate: the migration lock (sunbird.schema_migration_lock) is still held by deploy-a/pid 41/0c1d2e3f since 2026-12-06T16:00:00.000Z after waiting 600 s',
    ],
    [
      'a column there already with another type than the migration adds',
      new ColumnTypeMismatchError(addColumn('sunbird', 'user', 'usertype', 'text'), 'int'),
      'db:migrate: column usertype of table sunbird.user exists as int, but the migration adds it as text: change the column to that type (or drop it) and run db:migrate again',
    ],
    ['anything else', new TypeError('fetch failed learner@example.org'), 'db:migrate: unexpected TypeError'],
  ])('when the work stops with %s, then exit 1 and one line saying why, no stack trace and no message of the driver', async (_what, failure, line) => {
    const { code, lines } = await run([], async () => {
      throw failure
    })

    expect(code).toBe(OPERATOR_EXIT.failed)
    expect(lines).toEqual([line])
    expect(lines.join('\n')).not.toContain('learner@example.org')
  })
})
