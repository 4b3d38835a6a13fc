import type { Followed } from './follow.js'

/** The jobs of a run read cancelled once they settled, told apart by when they were cancelled (see cancelsOfRun). */
export interface CancelsOfRun {
  /** Cancelled while this run went on: the last job, held back with the caller's own id, is not submitted. */
  stopping: string[]
  /** Read cancelled already at this run's first read, recorded by an earlier run under the --idempotency-key given. */
  before: string[]
}

/**
 * A cancel means stop: the service spares a cancelled job's creator's own account, and an operator
 * who cancels a job of the run (say from another terminal, --job <id> --cancel) does not expect the
 * run to go on and submit the last job, held back with the caller's own id (ownIdLast). A job read
 * cancelled (`followed`: the jobs submitted before that one, followed until settled) stops it, but
 * for one an earlier run recorded under the --idempotency-key this run was given (`recordedEarlier`)
 * that read cancelled already at this run's first read: the earlier run, stopped by that cancel,
 * said this command submits the last job all the same, and running it asks for that.
 */
export function cancelsOfRun(followed: Pick<Followed, 'first' | 'statuses'>, recordedEarlier: ReadonlySet<string>): CancelsOfRun {
  const cancelledAtFirst = new Set(followed.first.filter((status) => status.state === 'cancelled').map((status) => status.jobId))
  const cancelled = followed.statuses.filter((status) => status.state === 'cancelled').map((status) => status.jobId)
  const before = cancelled.filter((jobId) => recordedEarlier.has(jobId) && cancelledAtFirst.has(jobId))
  return { stopping: cancelled.filter((jobId) => !before.includes(jobId)), before }
}
