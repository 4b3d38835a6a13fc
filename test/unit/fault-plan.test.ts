import { describe, expect, it } from 'vitest'
import { FAULT_KINDS, planFaults, seededRandom } from '../faults/support/fault-injector.js'

const WINDOW_MS = 150_000
const plan = (seed: number) => planFaults(seededRandom(seed), { windowMs: WINDOW_MS, pausesPerServer: 2 })

/** The fault suite's schedule: what FAULTS_SEED replays, and what every run is sure to include. */
describe('the fault plan of a seed', () => {
  it('is the same plan for the same seed, and another for another seed', () => {
    expect(plan(414696618)).toEqual(plan(414696618))
    expect(plan(414696618)).not.toEqual(plan(414696619))
  })

  it.each([1, 2, 414696618, 2 ** 31 - 1])('seed %i: one kill and two pauses of each server, inside the window, in time order', (seed) => {
    const faults = plan(seed)
    for (const kind of FAULT_KINDS) expect(faults.filter((f) => f.kind === kind)).toHaveLength(kind.endsWith('-kill') ? 1 : 2)
    for (const fault of faults) expect(fault.atMs).toBeGreaterThanOrEqual(0)
    for (const fault of faults) expect(fault.atMs).toBeLessThan(WINDOW_MS)
    expect(faults.map((f) => f.atMs)).toEqual([...faults.map((f) => f.atMs)].sort((a, b) => a - b))
    for (const pause of faults.filter((f) => f.kind.endsWith('-pause'))) expect(pause.pauseMs).toBeGreaterThanOrEqual(1000)
  })

  it.each([1, 2, 414696618, 2 ** 31 - 1])('seed %i: Keycloak is killed first and paused before, the kills apart (restarts do not start together)', (seed) => {
    const faults = plan(seed)
    const kills = faults.filter((f) => f.kind.endsWith('-kill'))
    expect(kills[0]?.kind).toBe('keycloak-kill')
    const keycloakKill = kills[0]?.atMs ?? 0
    for (const pause of faults.filter((f) => f.kind === 'keycloak-pause')) expect(pause.atMs + (pause.pauseMs ?? 0)).toBeLessThan(keycloakKill)
    for (let i = 1; i < kills.length; i++) expect((kills[i]?.atMs ?? 0) - (kills[i - 1]?.atMs ?? 0)).toBeGreaterThanOrEqual(0.08 * WINDOW_MS)
  })
})
