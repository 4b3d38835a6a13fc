import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { projectRoot } from '../../src/config/project-root.js'

export interface AuditVerifyRun {
  /** null: it did not end within 45 s and was killed. */
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs scripts/audit-verify.ts with tsx, as `npm run audit:verify` does, with `env` over this
 * process's environment (an undefined value removes the variable).
 */
export function runAuditVerify(args: string[], env: Record<string, string | undefined>): Promise<AuditVerifyRun> {
  const merged: NodeJS.ProcessEnv = { ...process.env }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name]
    else merged[name] = value
  }
  const child = spawn(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'scripts', 'audit-verify.ts'), ...args], {
    cwd: projectRoot,
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8')
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8')
  })
  const limit = setTimeout(() => child.kill('SIGKILL'), 45_000)
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(limit)
      resolve({ code, stdout, stderr })
    })
  })
}
