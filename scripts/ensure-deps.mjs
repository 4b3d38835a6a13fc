// Installs the locked dependencies when they are missing or older than package-lock.json, so that
// `npm start` and `npm test` are the only two commands a fresh clone needs. Plain Node: it runs
// before anything is installed.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')

export function ensureDependencies() {
  const lock = join(root, 'package-lock.json')
  const installed = join(root, 'node_modules', '.package-lock.json')
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return
  console.log('Installing dependencies (npm ci)…')
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error('npm ci failed')
    process.exit(result.status ?? 1)
  }
}

/** Runs a command from node_modules/.bin (or PATH) in the project root; exits on failure. */
export function run(command, args, options = {}) {
  const bin = join(root, 'node_modules', '.bin', command)
  const result = spawnSync(existsSync(bin) ? bin : command, args, { cwd: root, stdio: 'inherit', ...options })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
