import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import { type AuditVerifyRun, runAuditVerify } from '../support/audit-verify-cli.js'
import { runBehindFullPipe } from '../support/full-pipe.js'
import { freePort } from '../support/spawned-server.js'

// `npm run audit:verify` where it cannot reach a verdict: exit 2 (documented as "no verdict"), never
// 1 (a broken chain, a security incident), one line on stderr and no stack trace. No server is
// contacted: Cassandra is asked for on a port nobody listens on. Its verdicts on a real chain:
// test/integration/audit-verify.test.ts.

const USAGE = 'usage: npm run audit:verify [-- --chain <id> ...] [--against <earlier verdict.json>] [--receipt <request id> ...]'

/** One line on stderr, without a stack trace, and nothing on stdout (where a verdict would be). */
function expectOneLineWithoutVerdict(run: AuditVerifyRun): string {
  expect(run.stdout).toBe('')
  expect(run.stderr).not.toMatch(/\n\s+at /)
  const lines = run.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  return lines[0] ?? ''
}

describe('npm run audit:verify without a verdict', () => {
  it('when a setting is invalid, then it exits 2 with one line naming the setting, no stack trace', async () => {
    const run = await runAuditVerify([], { NODE_ENV: 'development', PORT: 'abc' })

    expect(run.code).toBe(2)
    expect(expectOneLineWithoutVerdict(run)).toMatch(/^audit:verify: could not verify: invalid configuration: .*PORT/)
  }, 60_000)

  it('when NODE_ENV=production with the shipped receipt key and no API consumers file, then neither is asked for: Cassandra not answering exits 2 with one line', async () => {
    // Arrange: the production settings a cron job might have, Cassandra on a closed port.
    const port = await freePort()

    // Act
    const run = await runAuditVerify([], {
      NODE_ENV: 'production',
      NODE_CONFIG_ENV: undefined,
      DELETION_RECEIPT_HASH_KEY: undefined,
      API_BEARER_CONSUMERS_FILE: join(projectRoot, 'no-such-dir', 'api-consumers.json'),
      sunbird_cassandra_host: '127.0.0.1',
      sunbird_cassandra_port: String(port),
    })

    // Assert
    expect(run.code).toBe(2)
    const line = expectOneLineWithoutVerdict(run)
    expect(line).toMatch(/^audit:verify: could not verify: Cassandra did not answer/)
    expect(line).toContain(String(port))
    expect(line).not.toMatch(/DELETION_RECEIPT_HASH_KEY|api-consumers/)
  }, 60_000)

  it('when an email is pasted as an argument, then it exits 2 with a reason and the usage, and the email is not repeated', async () => {
    const run = await runAuditVerify(['demo.user@example.org'], { NODE_ENV: 'development' })

    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^audit:verify: unexpected argument \(not shown\): a chain id follows --chain/),
      'usage: npm run audit:verify [-- --chain <id> ...] [--against <earlier verdict.json>] [--receipt <request id> ...]',
    ])
    expect(run.stderr).not.toContain('demo.user')
  }, 60_000)

  it.each([[['--help']], [['-h']], [['--chain', 'x', '--help']]])(
    'when asked for help with %j, then it prints the usage on stdout and exits 0, contacting nothing',
    async (args) => {
      // Cassandra on a port nobody listens on: a run that tried to reach it would exit 2.
      const run = await runAuditVerify(args, { NODE_ENV: 'development', sunbird_cassandra_host: '127.0.0.1', sunbird_cassandra_port: String(await freePort()) })

      expect(run).toEqual({
        code: 0,
        stdout: 'usage: npm run audit:verify [-- --chain <id> ...] [--against <earlier verdict.json>] [--receipt <request id> ...]\n',
        stderr: '',
      })
    },
    60_000,
  )

  it('when --against names a file larger than any verdict (16 MiB), then it is refused with the usage, exit 2, rather than read to its end', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'audit-verify-')), 'verdict.json')
    writeFileSync(path, ' '.repeat(16 * 1024 * 1024 + 1))
    const run = await runAuditVerify(['--against', path], { NODE_ENV: 'development' })

    expect(run).toEqual({ code: 2, stdout: '', stderr: `audit:verify: --against: the file is larger than 16 MiB, too large for a verdict of audit:verify\n${USAGE}\n` })
  }, 60_000)

  it('when --against is given twice, then it is refused with the usage, exit 2, rather than the first verdict going unchecked', async () => {
    // Arrange: the first file does not exist; checking only the last would not notice.
    const folder = mkdtempSync(join(tmpdir(), 'audit-verify-'))
    const verdict = join(folder, 'verdict.json')
    writeFileSync(verdict, '{"ok":true,"heads":{}}')

    // Act
    const run = await runAuditVerify(['--against', join(folder, 'missing.json'), '--against', verdict], { NODE_ENV: 'development' })

    // Assert
    expect(run).toEqual({ code: 2, stdout: '', stderr: `audit:verify: --against is given more than once; it takes one file: run once per earlier verdict\n${USAGE}\n` })
  }, 60_000)

  it('when --against names a folder, then it says so, exit 2, not that the file is no verdict', async () => {
    const run = await runAuditVerify(['--against', mkdtempSync(join(tmpdir(), 'audit-verify-'))], { NODE_ENV: 'development' })

    expect(run).toEqual({ code: 2, stdout: '', stderr: `audit:verify: --against: a folder, not a file\n${USAGE}\n` })
  }, 60_000)

  it('when an argument is unknown, then it exits 2 with the usage', async () => {
    const run = await runAuditVerify(['--chains', 'x'], { NODE_ENV: 'development' })

    expect(run.code).toBe(2)
    expect(run.stderr).toContain('usage: npm run audit:verify')
    expect(run.stdout).toBe('')
  }, 60_000)
})

describe('npm run audit:verify into a pipe already full (| tee log behind a busy disk)', () => {
  // Its output waits in Node until the reader takes it: an exit at once would drop it.
  const run = (args: string[]) =>
    runBehindFullPipe(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'scripts', 'audit-verify.ts'), ...args], { ...process.env, NODE_ENV: 'development' })

  it('when asked for help, then the usage still arrives whole once the reader takes it, and the exit code is 0', async () => {
    expect(await run(['--help'])).toEqual({ code: 0, out: `${USAGE}\n` })
  }, 60_000)

  it.each([
    [['--chains', 'x'], "audit:verify: unknown option '--chains': the flags are --chain, --against and --receipt"],
    [['--against', join(projectRoot, 'no-such-verdict.json')], 'audit:verify: --against: no such file'],
  ])(
    'when the arguments %j are refused, then the reason and the usage still arrive whole, and the exit code is 2',
    async (args, reason) => {
      expect(await run(args)).toEqual({ code: 2, out: `${reason}\n${USAGE}\n` })
    },
    60_000,
  )
})
