import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'

// `npm start` prints its quick start (scripts/print-quickstart.ts) before the server starts: a
// consumers file the server would refuse must stop it the same way, before any bearer is signed.
describe('the quick start printed by npm start, over a consumers file it cannot use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quickstart-'))

  it.each([
    ['holds an entry that is not an object', '[null]', 'holds an invalid entry: API consumer entry that is not an object'],
    ['holds a secret that is a number', '[{"key":"portal","algorithm":"HS256","secret":98765432109876}]', 'holds an invalid entry: API consumer portal: HS256 needs a secret of 16+ characters'],
  ])('when the file %s, then it exits 78 with the one line the server prints, quoting nothing of the file', (name, text, problem) => {
    const file = join(dir, `${name.length}.json`)
    writeFileSync(file, text)

    const result = spawnSync(join(projectRoot, 'node_modules', '.bin', 'tsx'), ['scripts/print-quickstart.ts'], {
      cwd: projectRoot,
      encoding: 'utf8',
      env: { ...process.env, API_BEARER_CONSUMERS_FILE: file },
      timeout: 30_000,
    })

    expect(result.status, result.stderr).toBe(78)
    expect(result.stderr.trim()).toBe(`invalid configuration:\n  API_BEARER_CONSUMERS_FILE: ${file} ${problem}`)
    expect(result.stdout + result.stderr).not.toContain('98765432109876')
    expect(result.stdout).not.toContain('API_BEARER=')
  })
})
