import { randomUUID } from 'node:crypto'
import type { Config } from '../src/config/config.js'
import { KeycloakIdentity } from '../src/store/keycloak-identity.js'
import { cpuMs } from './processes.js'

/** Keycloak's CPU per admin call (ms) over one stretch of the warm-up. */
export interface WarmupWindow {
  calls: number
  cpuMsPerCall: number
}

export interface KeycloakWarmup {
  calls: number
  first: WarmupWindow
  last: WarmupWindow
}

const WINDOW_MS = 10_000

/**
 * Keycloak as a platform runs it: warm. Right after a start its JVM runs the admin API interpreted
 * or half compiled for a long while: measured here (2026-12-03), 8.6–9.5 ms of Keycloak CPU per
 * deletion in a full-delete round right after a start and after 10,000 calls, 5.9 ms after 60,000,
 * 1.2–1.6 ms after well over 100,000; the same admin call alone went from 2.7 to 0.5 ms (0.22 ms
 * at the end of a 90 s warm-up of 236,000 calls).
 * A Keycloak serving a platform has long passed that point, and B does not call it at all, so an
 * unwarmed Keycloak would put its JIT's warm-up on the service's rows. This makes the call a
 * deletion makes (logout of a user Keycloak does not know: 404) through the service's own adapter,
 * `inFlight` at a time, for `seconds`, and reports Keycloak's CPU per call in the first and the last
 * ten seconds.
 */
export async function warmUpKeycloak(config: Config, keycloakPid: number | undefined, seconds: number, inFlight: number): Promise<KeycloakWarmup> {
  const identity = new KeycloakIdentity({ ...config.auth.keycloakAdmin, realm: config.auth.userToken.realm })
  const cpu = () => (keycloakPid ? cpuMs(keycloakPid) : Number.NaN)
  const end = Date.now() + seconds * 1000
  let calls = 0
  let window = { startedAt: Date.now(), calls: 0, cpu: cpu() }
  let first: WarmupWindow | undefined
  let last: WarmupWindow = { calls: 0, cpuMsPerCall: Number.NaN }
  const closeWindow = () => {
    const done = { calls: window.calls, cpuMsPerCall: window.calls > 0 ? (cpu() - window.cpu) / window.calls : Number.NaN }
    first ??= done
    last = done
    window = { startedAt: Date.now(), calls: 0, cpu: cpu() }
  }
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end) {
        await identity.eraseAccount(randomUUID())
        calls++
        window.calls++
        if (Date.now() - window.startedAt >= WINDOW_MS) closeWindow()
      }
    }),
  )
  // A last stretch much shorter than a window holds too few calls (and CPU ticks) to say anything:
  // it counts only when no full window was closed.
  if (window.calls > 0 && (first === undefined || Date.now() - window.startedAt >= WINDOW_MS / 2)) closeWindow()
  return { calls, first: first ?? last, last }
}

/** Keycloak's own CPU with nobody calling it, when the wait for it to settle ended. */
export interface KeycloakSettle {
  seconds: number
  idleMsPerSecond: number
  settled: boolean
}

const SETTLE_SAMPLE_MS = 5000
/** Keycloak counts as settled below this much of its CPU per second with nobody calling it (an old one spends 4–12). */
export const KEYCLOAK_SETTLED_BELOW_MS_PER_SECOND = 50

/**
 * Waits until Keycloak, with nobody calling it, spends less than `belowMsPerSecond` of CPU per
 * second, for at most `maxSeconds`. Measured here (2026-12-04): a Keycloak started two minutes
 * before spent 954 ms of CPU per second idle right after the 90 s warm-up (its compilers and
 * collectors catching up with the burst), 308 and 218 ms/s 15 and 30 s later, against 4–12 ms/s for
 * one up 35 minutes. Left to run on, that work lands on the rounds after the warm-up: it takes the
 * two cores from the full delete and shows as Keycloak CPU per deletion (12–16 ms against 1.4–1.8 ms
 * from an old Keycloak, for the same one admin call per deletion).
 */
export async function waitForKeycloakToSettle(keycloakPid: number | undefined, maxSeconds: number, belowMsPerSecond = KEYCLOAK_SETTLED_BELOW_MS_PER_SECOND): Promise<KeycloakSettle> {
  const started = Date.now()
  if (!keycloakPid) return { seconds: 0, idleMsPerSecond: Number.NaN, settled: false }
  for (;;) {
    const cpu0 = cpuMs(keycloakPid)
    await new Promise((resolve) => setTimeout(resolve, SETTLE_SAMPLE_MS))
    const idleMsPerSecond = Math.round(((cpuMs(keycloakPid) - cpu0) * 1000) / SETTLE_SAMPLE_MS)
    const seconds = Math.round((Date.now() - started) / 1000)
    if (idleMsPerSecond < belowMsPerSecond) return { seconds, idleMsPerSecond, settled: true }
    if (Date.now() - started >= maxSeconds * 1000) return { seconds, idleMsPerSecond, settled: false }
  }
}
