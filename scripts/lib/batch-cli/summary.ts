import type { Status } from './batch-api.js'

/** The jobs followed, taken together: what the progress view shows and the last line says. */
export function summarise(statuses: Status[]) {
  const total = statuses.reduce((sum, s) => sum + s.total, 0)
  const done = statuses.reduce((sum, s) => sum + s.done, 0)
  const succeeded = statuses.reduce((sum, s) => sum + s.succeeded, 0)
  const cancelled = statuses.reduce((sum, s) => sum + (s.cancelled ?? 0), 0)
  // Deleted (counted in succeeded) with steps still owed when the job settled them; absent: none.
  const owed = statuses.reduce((sum, s) => sum + (s.owed ?? 0), 0)
  const failed: Record<string, number> = {}
  for (const s of statuses) for (const [code, n] of Object.entries(s.failed)) failed[code] = (failed[code] ?? 0) + n
  // The jobs still running make the rate an ETA rests on; once all are completed, the last minute's.
  const running = statuses.filter((s) => !finished(s))
  const rate = Math.round((running.length > 0 ? running : statuses).reduce((sum, s) => sum + s.ratePerSecond, 0) * 10) / 10
  // A cancelled job's last users are settled as fast as the runners reach them: no rate foretells it (the service answers null too).
  const settling = statuses.some((s) => s.state === 'cancelled' && !finished(s))
  const eta = done === total ? 0 : rate > 0 && !settling ? Math.ceil((total - done) / rate) : null
  const paused = statuses.some((s) => s.state === 'paused')
  return { total, done, succeeded, failed, cancelled, owed, rate, eta, paused, completed: statuses.every(finished) }
}

/** Nothing of the job is left to change: completed, or cancelled with its last users settled. */
const finished = (s: Status) => s.state === 'completed' || (s.state === 'cancelled' && s.done === s.total)

export type Summary = ReturnType<typeof summarise>

/** The failures by error code, as `CODE=n …`, or `none`. */
export const failuresText = (failed: Record<string, number>) =>
  Object.entries(failed)
    .map(([code, n]) => `${code}=${n}`)
    .join(' ') || 'none'
