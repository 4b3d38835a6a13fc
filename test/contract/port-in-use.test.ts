import { spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../src/config/project-root.js'
import { contractServerEnv } from '../support/contract-server.js'
import { createRealmKeys } from '../support/user-tokens.js'

/** The built server started on a port another process holds (a second instance, a second `npm start`). */
describe('a port already in use', () => {
  const keys = createRealmKeys()
  let holder: Server
  let port: number
  beforeAll(async () => {
    holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    port = (holder.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => holder.close(() => resolve()))
  })

  it('when the service cannot listen, then it exits 1 with one log line naming the port, not a stack trace', () => {
    const result = spawnSync(process.execPath, [join(projectRoot, 'dist', 'src', 'main.js')], {
      cwd: projectRoot,
      env: { ...process.env, ...contractServerEnv(keys.dir), PORT: String(port), HOST: '127.0.0.1' },
      encoding: 'utf8',
      timeout: 20_000,
    })

    expect(result.status).toBe(1)
    const refusal = result.stdout.split('\n').find((line) => line.includes('EADDRINUSE'))
    expect(JSON.parse(refusal ?? '{}')).toMatchObject({ level: 60, code: 'EADDRINUSE', port, msg: 'port already in use: stop the process holding it, or set PORT' })
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/\n\s+at /)
    expect(result.stdout).not.toContain('"listening"')
  })
})
