// Chromium for the browser tier (the /docs page rendered in a real headless browser). Debian's
// package, never a browser build a test tool downloads: those downloads fail on closed networks,
// Debian's mirror is reachable wherever the service is built. Plain Node, so it runs stand-alone
// (`node scripts/ensure-chromium.mjs`) and from the browser tier's global setup.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

export const chromiumPath = '/usr/bin/chromium'

/** Installs Debian's `chromium` with apt-get when /usr/bin/chromium is missing; returns its path. */
export function ensureChromium() {
  if (existsSync(chromiumPath)) return chromiumPath
  if (process.getuid?.() !== 0) {
    throw new Error(`${chromiumPath} is missing; install Debian's chromium package (sudo apt-get install -y chromium) and run again`)
  }
  console.log(`${chromiumPath} is missing: installing Debian's chromium (apt-get)…`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update'], ['install', '-y', 'chromium']]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env })
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.status ?? result.signal ?? result.error})`)
  }
  if (!existsSync(chromiumPath)) throw new Error(`apt-get installed chromium but ${chromiumPath} is still missing`)
  return chromiumPath
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(ensureChromium())
}
