import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import { behindSlowReader } from '../support/slow-reader.js'

// exitAfterFlush, the way every operator CLI ends: on a pipe (a log, `| tee`) Node writes stdout
// behind the process, and an exit at once drops what the reader has not taken yet.

const dir = mkdtempSync(join(tmpdir(), 'exit-after-flush-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const LINES = 20_000
const tsx = join(projectRoot, 'node_modules', '.bin', 'tsx')

/** A CLI that prints LINES lines on stdout, then one on stderr (why it stops, the key to resume with), and ends through exitAfterFlush(2). */
function cliScript(): string {
  const path = join(dir, 'cli.ts')
  const helper = pathToFileURL(join(projectRoot, 'scripts', 'lib', 'exit-after-flush.ts')).href
  writeFileSync(
    path,
    [
      `import { exitAfterFlush } from ${JSON.stringify(helper)}`,
      `for (let line = 1; line <= ${LINES}; line++) console.log(\`line \${line}\`)`,
      "console.error('the last line')",
      'exitAfterFlush(2)',
      '',
    ].join('\n'),
  )
  return path
}

/** The batch CLI's way out: LINES lines, then fail() (exitAfterFlush(2) behind it), Ctrl-C and kills handled as the CLI does. */
function batchCliScript(): string {
  const path = join(dir, 'batch-cli.ts')
  const lib = (file: string) => JSON.stringify(pathToFileURL(join(projectRoot, 'scripts', 'lib', 'batch-cli', file)).href)
  writeFileSync(
    path,
    [
      `import { exitOnInterrupt } from ${lib('interrupt.ts')}`,
      `import { fail } from ${lib('terminal.ts')}`,
      "exitOnInterrupt(() => 'the jobs go on')",
      `for (let line = 1; line <= ${LINES}; line++) console.log(\`line \${line}\`)`,
      "try { fail('the last line') } catch {}",
      '',
    ].join('\n'),
  )
  return path
}

describe('exitAfterFlush: the process ends once everything it wrote is written', () => {
  it('when stdout is a pipe whose reader starts only after the CLI said its last line, then every line still arrives, and the exit code is the one asked', async () => {
    const slow = behindSlowReader(tsx, [cliScript()], dir)
    const child = spawn(slow.command, slow.args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8')
      if (stderr.includes('the last line')) slow.release()
    })
    const code = await new Promise((resolve) => child.on('close', resolve))

    expect(stdout.split('\n').filter((line) => line.startsWith('line ')).length).toBe(LINES)
    expect(stderr).toBe('the last line\n')
    expect(code).toBe(2)
  }, 30_000)

  it('when the batch CLI waits on a stalled reader to write its last lines and gets Ctrl-C, then it ends at once with the code it was ending with, not on a second Ctrl-C', async () => {
    const slow = behindSlowReader(tsx, [batchCliScript()], dir)
    const child = spawn(slow.command, slow.args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8')
      // The reader is never released: only the signal can end the wait (the reader starts by itself 10 s in).
      if (stderr.includes('the last line')) process.kill(slow.pid(), 'SIGINT')
    })
    const code = await new Promise((resolve) => child.on('close', resolve))

    // Ended at once: the reader got only what the pipe held, not every line, as it would had the CLI waited for it.
    expect(stdout.split('\n').filter((line) => line.startsWith('line ')).length).toBeLessThan(LINES)
    expect(stderr).toBe('the last line\n')
    expect(code).toBe(2)
  }, 30_000)

  it('when the reader is gone before the end (| head -1), then the process still exits with its code', async () => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', '"$@" 2>&1 | head -1', 'bash', tsx, cliScript()], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    const code = await new Promise((resolve) => child.on('close', resolve))

    expect(out).toBe('line 1\n')
    expect(code).toBe(2)
  }, 30_000)
})
