import { chromium, type Browser } from 'playwright-core'
import { chromiumPath } from '../../scripts/ensure-chromium.mjs'

/**
 * Debian's Chromium (installed by scripts/ensure-chromium.mjs, never a browser a test tool
 * downloads), headless, with a fresh profile (Playwright makes a new empty user-data-dir per
 * launch). The flags keep Chromium from reaching out on its own (background networking, component
 * updates, sync, QUIC): on a closed network those attempts only fail, and they are not the page's.
 * The resolver rule makes every name but loopback unresolvable, so nothing can leave the machine.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  })
}
