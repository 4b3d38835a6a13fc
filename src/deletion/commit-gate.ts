import { DependencyUnavailableError } from './errors.js'

/**
 * The point of no return of a deletion: creating its request. Before it, the deletion may still
 * answer "retry" (nothing was written); from the moment the creation is sent, the request is
 * carried out (by the sweeper if not by its runner), so the only true answer is the accepted one.
 */
export interface CommitGate {
  /** Called just before the request is created. Throws DependencyUnavailableError when the caller has already been told "retry". */
  enter(): void
}

/**
 * Runs a deletion against the caller's deadline. When the deadline passes first, the caller hears
 * the truth: "retry" (503) if the deletion has not reached its point of no return, which it then
 * never will; else the accepted answer, while the deletion goes on (or the sweeper takes it over).
 * `onCommit` hears the moment the point of no return is passed.
 */
export function answerByDeadline<T>(answerBy: Date, accepted: () => T, run: (gate: CommitGate) => Promise<T>, onCommit?: () => void): Promise<T> {
  let committed = false
  let toldRetry = false
  const gate: CommitGate = {
    enter() {
      if (toldRetry) throw new DependencyUnavailableError('cassandra')
      committed = true
      onCommit?.()
    },
  }
  // Already past the deadline (the request waited that long before it got here): "retry", and nothing is run.
  if (answerBy.getTime() <= Date.now()) return Promise.reject(new DependencyUnavailableError('cassandra'))
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => {
        if (committed) return resolve(accepted())
        toldRetry = true
        reject(new DependencyUnavailableError('cassandra'))
      },
      Math.max(0, answerBy.getTime() - Date.now()),
    )
    run(gate).then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}
