// Types for scripts/ensure-chromium.mjs (plain JS so it runs stand-alone).
export const chromiumPath: string
export function ensureChromium(): string
