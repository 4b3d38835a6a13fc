import type { Clock } from './ports.js'

/**
 * Until when a runner holds a request: `leaseMs` from `from` (now). Taken when a run starts and
 * renewed with every checkpoint, so another runner takes a request over only once its runner has
 * made no progress for that long, not merely because the whole run took longer.
 */
export const leaseUntil = (deps: { clock: Clock; leaseMs: number }, from: Date = deps.clock.now()): Date => new Date(from.getTime() + deps.leaseMs)
