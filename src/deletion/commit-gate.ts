import { DependencyUnavailableError } from './errors.js'

/**
 * The two moments that decide a deletion's answer.
 * - `enter`: the point of no return, creating its request. Before it, the deletion may still answer
 *   "retry" (nothing was written); from the moment the creation is sent, the request is carried out
 *   (by the sweeper if not by its runner), so "retry" is never true again.
 * - `decided`: this request holds the lock. Until then the request may still lose the user to a
 *   concurrent deletion (whose caller hears 200, this one 400 UOS_USRDLT0008), so "accepted" is
 *   not yet known to be true either.
 */
export interface CommitGate {
  /** Called just before the request is created. Throws DependencyUnavailableError when the caller has already been told "retry". */
  enter(): void
  /** Throws as `enter` does, entering nothing: for writes a run sends before its point of no return, none of them sent once the caller has been told "retry". */
  throwIfToldRetry(): void
  /** Called once the request holds the lock: from here the accepted answer is the true one. */
  decided(): void
}

/**
 * How long past its deadline an answer waits for a lock already under way. The lock is one
 * compare-and-set and, when its answer is lost, a settling read bounded by the store; this only
 * caps a Cassandra that stops answering altogether.
 */
export const LOCK_DECISION_WAIT_MS = 15_000

export interface DeadlineOptions {
  /** Hears the moment the point of no return is passed. */
  onCommit?: (() => void) | undefined
  /** See LOCK_DECISION_WAIT_MS. */
  decisionWaitMs?: number
  /**
   * Past the point of no return, answer with the run's own outcome only, however late: for work that
   * nothing carries on after its caller (a batch job's write), where "accepted" without it could be a
   * lie. The run's own calls bound the wait (the driver's timeouts).
   */
  untilOutcome?: boolean
}

/**
 * Runs a deletion against the caller's deadline. When the deadline passes first, the caller hears
 * the truth: "retry" (503) if the deletion has not reached its point of no return, which it then
 * never will; the accepted answer if it holds the lock, while the deletion goes on (or the sweeper
 * takes it over). In between (request created, lock not yet decided) the answer waits for the lock:
 * of two concurrent deletions of one user exactly one is answered 200, and the loser its 400, even
 * when both are slower than the deadline. Only when the lock is still undecided `decisionWaitMs`
 * later is the accepted answer given without it (the sweeper then settles the request).
 */
export function answerByDeadline<T>(answerBy: Date, accepted: () => T, run: (gate: CommitGate) => Promise<T>, options: DeadlineOptions = {}): Promise<T> {
  // Already past the deadline (the request waited that long before it got here): "retry", and nothing is run.
  if (answerBy.getTime() <= Date.now()) return Promise.reject(new DependencyUnavailableError('cassandra'))
  let committed = false
  let decided = false
  let toldRetry = false
  let overdue = false
  const timers: NodeJS.Timeout[] = []
  return new Promise<T>((resolve, reject) => {
    const answer = (settle: () => void) => {
      for (const timer of timers) clearTimeout(timer)
      settle()
    }
    const gate: CommitGate = {
      throwIfToldRetry() {
        if (toldRetry) throw new DependencyUnavailableError('cassandra')
      },
      enter() {
        gate.throwIfToldRetry()
        committed = true
        options.onCommit?.()
      },
      decided() {
        decided = true
        if (overdue) answer(() => resolve(accepted()))
      },
    }
    const deadline = () => {
      if (!committed) {
        toldRetry = true
        return answer(() => reject(new DependencyUnavailableError('cassandra')))
      }
      if (decided) return answer(() => resolve(accepted()))
      if (options.untilOutcome) return
      overdue = true
      timers.push(setTimeout(() => answer(() => resolve(accepted())), options.decisionWaitMs ?? LOCK_DECISION_WAIT_MS))
    }
    timers.push(setTimeout(deadline, Math.max(0, answerBy.getTime() - Date.now())))
    run(gate).then(
      (value) => answer(() => resolve(value)),
      (err: unknown) => answer(() => reject(err)),
    )
  })
}
