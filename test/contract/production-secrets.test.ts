import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { configDir, projectRoot } from '../../src/config/project-root.js'
import { contractServerEnv, startContractServer } from '../support/contract-server.js'
import { createRealmKeys } from '../support/user-tokens.js'

/** The built server started the way a deployment starts it, with NODE_ENV=production. */
describe('NODE_ENV=production with a secret left at its shipped value', () => {
  const keys = createRealmKeys()
  const shippedKey = (JSON.parse(readFileSync(join(configDir, 'default.json'), 'utf8')) as { deletion: { receiptHashKey: string } }).deletion.receiptHashKey

  /** Runs node dist/src/main.js to its exit (it must exit: it never gets to listen). */
  function start(env: Record<string, string>) {
    return spawnSync(process.execPath, [join(projectRoot, 'dist', 'src', 'main.js')], {
      cwd: projectRoot,
      env: { ...process.env, ...contractServerEnv(keys.dir), NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    })
  }

  it.each([
    ['not set', ''],
    ['set to the shipped value', shippedKey],
  ])('when DELETION_RECEIPT_HASH_KEY is %s, then the service refuses to start, names the variable and not its value', (_, value) => {
    const result = start({ DELETION_RECEIPT_HASH_KEY: value })

    expect(result.status).toBe(78)
    expect(result.stderr).toContain('DELETION_RECEIPT_HASH_KEY')
    expect(result.stderr).toContain('NODE_ENV=production')
    expect(result.stderr).not.toContain(shippedKey)
    expect(result.stderr).not.toMatch(/\n\s+at /) // a message, not a stack trace
    expect(result.stdout).not.toContain('"listening"')
  })

  it('when DELETION_RECEIPT_HASH_KEY is a key of the deployment, then it starts and listens', async () => {
    const server = await startContractServer({ keys, env: { DELETION_RECEIPT_HASH_KEY: 'a-key-only-this-deployment-knows' } })
    try {
      const response = await fetch(`${server.url}/health`)
      expect(response.status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  it('when API_BEARER_CONSUMERS_FILE names a file that does not exist, then the service refuses to start with one line naming the setting and the path', () => {
    const result = start({ DELETION_RECEIPT_HASH_KEY: 'a-key-only-this-deployment-knows', API_BEARER_CONSUMERS_FILE: '/nonexistent/api-consumers.json' })

    expect(result.status).toBe(78)
    expect(result.stderr).toContain('API_BEARER_CONSUMERS_FILE: /nonexistent/api-consumers.json does not exist')
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect(result.stdout).not.toContain('"listening"')
  })
})
