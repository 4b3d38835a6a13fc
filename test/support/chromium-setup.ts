import { ensureChromium } from '../../scripts/ensure-chromium.mjs'

/** Once per run, for the browser project: Debian's Chromium, installed with apt-get if missing. */
export default function setup(): void {
  ensureChromium()
}
