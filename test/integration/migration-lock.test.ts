import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { type Client, types } from 'cassandra-driver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OPERATOR_EXIT, runWithoutArguments } from '../../scripts/lib/operator-command.js'
import { projectRoot } from '../../src/config/project-root.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { acquireMigrationLock, MIGRATION_LOCK_NAME, MIGRATION_LOCK_TABLE, MigrationLockError, migrationLockTableCql } from '../../src/store/migration-lock.js'
import { currentSchemaVersion, migrate, migrations } from '../../src/store/migrations.js'
import { testConfig } from '../support/harness.js'

const ALL_VERSIONS = migrations.map((m) => m.version)
const LWT = { prepare: true, serialConsistency: types.consistencies.serial } as const
/** Short pauses, so a test waits in tenths of a second rather than the operator's 2 s. */
const QUICK = { pollMs: 200 } as const

const freshKeyspace = () => `mlock_${randomUUID().replace(/-/g, '').slice(0, 16)}`

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** `npm run db:migrate` as a deploy runs it: its own process, on `keyspace`, no search engine configured. */
function dbMigrate(keyspace: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, CASSANDRA_KEYSPACE: keyspace, LOG_LEVEL: 'silent' }
  delete env.sunbird_es_host
  return new Promise((resolve) => {
    execFile(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'scripts', 'db-migrate.ts')], { cwd: projectRoot, env, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

describe('db:migrate under the migration lock (schema_migration_lock)', () => {
  let admin: Client
  const keyspaces: string[] = []
  beforeAll(async () => {
    admin = createCassandraClient(testConfig().cassandra, { keyspace: false })
    await admin.connect()
  })
  afterAll(async () => {
    // A drop flushes and snapshots nothing (auto_snapshot off) but may outlast the driver's 5 s on a busy machine.
    for (const ks of keyspaces) await admin.execute(`DROP KEYSPACE IF EXISTS ${ks}`, [], { readTimeout: 120_000 })
    await admin.shutdown()
  })

  /** A keyspace of its own, dropped after the file. */
  const newKeyspace = () => {
    const ks = freshKeyspace()
    keyspaces.push(ks)
    return ks
  }
  const configOf = (keyspace: string) => testConfig({ cassandra: { keyspace } }).cassandra
  const tablesOf = async (keyspace: string) =>
    (await admin.execute('SELECT table_name, id FROM system_schema.tables WHERE keyspace_name = ?', [keyspace])).rows.map((row) => ({
      table: row.get('table_name') as string,
      id: String(row.get('id')),
    }))
  const lockRow = async (keyspace: string) =>
    (await admin.execute(`SELECT holder FROM ${keyspace}.${MIGRATION_LOCK_TABLE} WHERE name = ?`, [MIGRATION_LOCK_NAME], { prepare: true, consistency: types.consistencies.serial })).first()

  /** A keyspace with only the lock table, its lock held by `holder` (another run, alive or crashed) for `ttlSeconds`. */
  async function lockHeldBy(holder: string, ttlSeconds: number): Promise<string> {
    const ks = newKeyspace()
    await admin.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`)
    await admin.execute(migrationLockTableCql(ks))
    const taken = await admin.execute(
      `INSERT INTO ${ks}.${MIGRATION_LOCK_TABLE} (name, holder, since) VALUES (?, ?, ?) IF NOT EXISTS USING TTL ?`,
      [MIGRATION_LOCK_NAME, holder, new Date(), ttlSeconds],
      LWT,
    )
    expect(taken.wasApplied()).toBe(true)
    return ks
  }

  async function until(what: string, check: () => boolean | Promise<boolean>, withinMs = 30_000): Promise<void> {
    const giveUpAt = Date.now() + withinMs
    while (!(await check())) {
      if (Date.now() >= giveUpAt) throw new Error(`not within ${withinMs} ms: ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  it('when two npm run db:migrate start at the same time on a fresh keyspace, then both finish, one applies every migration and the other none, and each table has one id', async () => {
    const ks = newKeyspace()

    const runs = await Promise.all([dbMigrate(ks), dbMigrate(ks)])

    expect(runs.map((run) => run.code)).toEqual([0, 0])
    const applied = runs.filter((run) => run.stdout.includes(`schema of keyspace ${ks} is current (applied ${ALL_VERSIONS.join(', ')})`))
    const found = runs.filter((run) => run.stdout.includes(`schema of keyspace ${ks} was already current`))
    expect({ applied: applied.length, found: found.length }, runs.map((run) => run.stdout + run.stderr).join('\n---\n')).toEqual({ applied: 1, found: 1 })
    expect(found[0]?.stdout).not.toContain('applied migration')
    const tables = await tablesOf(ks)
    const names = tables.map((t) => t.table)
    expect(new Set(tables.map((t) => t.id)).size, 'one id per table').toBe(new Set(names).size)
    expect(names.length).toBe(new Set(names).size)
    expect(names).toEqual(expect.arrayContaining([MIGRATION_LOCK_TABLE, 'schema_version', 'user', 'user_deletion_request']))
    expect(await (admin.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> }).checkSchemaAgreement()).toBe(true)
    const versions = (await admin.execute(`SELECT version FROM ${ks}.schema_version`)).rows.map((row) => row.get('version') as number)
    expect(versions.sort((a, b) => a - b)).toEqual(ALL_VERSIONS)
    expect(await lockRow(ks), 'the lock is released').toBeNull()
  }, 300_000)

  it('when another run holds the lock, then a run says it waits, for whom, migrates nothing meanwhile, and migrates all once the lock is released', async () => {
    const ks = await lockHeldBy('deploy-a/pid 41/0c1d2e3f', 300)
    const said: string[] = []

    const migrating = migrate(configOf(ks), (line) => said.push(line), { lock: { ...QUICK, waitMs: 120_000 } })
    await until('the waiting line', () => said.some((line) => line.startsWith('waiting for the migration lock')))

    expect(said).toEqual([
      expect.stringMatching(/^waiting for the migration lock, held by deploy-a\/pid 41\/0c1d2e3f since \d{4}-\d\d-\d\dT[\d:.]+Z: another db:migrate run is under way \(waiting up to 120 s\)$/),
    ])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(
      (await tablesOf(ks)).map((t) => t.table),
      'nothing migrated while it waits',
    ).toEqual([MIGRATION_LOCK_TABLE])
    expect(said, 'said once, not at every try').toHaveLength(1)

    const released = await admin.execute(`DELETE FROM ${ks}.${MIGRATION_LOCK_TABLE} WHERE name = ? IF holder = ?`, [MIGRATION_LOCK_NAME, 'deploy-a/pid 41/0c1d2e3f'], LWT)
    expect(released.wasApplied()).toBe(true)

    expect(await migrating).toEqual(ALL_VERSIONS)
    expect(said[1]).toMatch(/^took the migration lock after waiting \d+ s$/)
    expect(await lockRow(ks)).toBeNull()
  }, 120_000)

  it('when the lock stays held past the wait, then db:migrate stops: exit 1, one line naming the holder, nothing migrated', async () => {
    const ks = await lockHeldBy('deploy-a/pid 41/0c1d2e3f', 300)
    const lines: string[] = []

    const code = await runWithoutArguments(
      'db:migrate',
      [],
      async () => {
        await migrate(configOf(ks), () => {}, { lock: { ...QUICK, waitMs: 1500 } })
      },
      (line) => lines.push(line),
    )

    expect(code).toBe(OPERATOR_EXIT.failed)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      new RegExp(
        `^db:migrate: the migration lock \\(${ks}\\.${MIGRATION_LOCK_TABLE}\\) is still held by deploy-a/pid 41/0c1d2e3f since \\S+ after waiting 2 s: another db:migrate run is under way; run it again once that one has ended \\(a run that was killed frees the lock within 60 s\\)$`,
      ),
    )
    expect((await tablesOf(ks)).map((t) => t.table)).toEqual([MIGRATION_LOCK_TABLE])
    expect((await lockRow(ks))?.get('holder'), "the other run's lock is left alone").toBe('deploy-a/pid 41/0c1d2e3f')
  })

  it('when a run crashed holding the lock, then the next run waits only until its TTL has run out, then migrates', async () => {
    const ks = await lockHeldBy('crashed/pid 7/00000000', 3)
    const said: string[] = []

    const ran = await migrate(configOf(ks), (line) => said.push(line), { lock: { ...QUICK, waitMs: 60_000 } })

    expect(ran).toEqual(ALL_VERSIONS)
    expect(said[0]).toContain('waiting for the migration lock, held by crashed/pid 7/00000000')
    expect(said).toContainEqual(expect.stringMatching(/^took the migration lock after waiting [1-9]\d* s$/))
    expect(currentSchemaVersion).toBe(Math.max(...ALL_VERSIONS))
  })

  it('when the lock is lost while held (it expired and another run took it), then the holder stops before its next statement and leaves the other run its lock', async () => {
    const ks = await lockHeldBy('placeholder', 1)
    await admin.execute(`DELETE FROM ${ks}.${MIGRATION_LOCK_TABLE} WHERE name = ?`, [MIGRATION_LOCK_NAME], { prepare: true })
    const lock = await acquireMigrationLock(admin, ks, () => {}, { ...QUICK, holder: 'run-b', renewMs: 100 })
    lock.assertHeld()

    await admin.execute(`UPDATE ${ks}.${MIGRATION_LOCK_TABLE} SET holder = ? WHERE name = ? IF holder = ?`, ['run-c', MIGRATION_LOCK_NAME, 'run-b'], LWT)
    await until('a renewal that finds the lock taken', () => {
      try {
        lock.assertHeld()
        return false
      } catch {
        return true
      }
    })

    expect(() => lock.assertHeld()).toThrow(MigrationLockError)
    expect(() => lock.assertHeld()).toThrow(
      /^the migration lock was lost \(taken by run-c\): another db:migrate run may be migrating; stopped before the next statement, run it again once that one has ended$/,
    )
    await lock.release()
    expect((await lockRow(ks))?.get('holder')).toBe('run-c')
  })
})
