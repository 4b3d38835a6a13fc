import { type DeletionRequest, isFinished, type RequestState, type StepName } from './deletion-request.js'
import { isDeleted } from './is-deleted.js'
import type { AuditTrail, DeletionRequestStore } from './ports.js'
import { failRequest, settleRequest } from './settle-request.js'
import { recordLock } from './steps/lock.js'
import type { PlanName, StepDeps } from './steps/step.js'
import { stepsOf } from './steps/index.js'

export interface RunDeps extends StepDeps {
  requests: DeletionRequestStore
  audit: AuditTrail
  /** How long a runner holds a request; a crashed runner's request is resumable after it. */
  leaseMs: number
  /** Key of the keyed hash that stands for the user in receipts. */
  receiptKey: string
  /** Told when a step could not be done now (for the log); ids only, never the error's payload. */
  onStepError?(step: StepName, err: unknown): void
  /** Fault injection for crash tests: called once the request is accepted and after each step is recorded. */
  afterStep?(step: StepName | 'accept'): void
}

/** The plan a request follows. Every request is a Sunbird deletion today; a request that names a mode will say so here. */
function planOf(_request: DeletionRequest): PlanName {
  return 'sunbird'
}

/**
 * Runs every step of the request's plan it has not finished, in order, recording each outcome as it
 * goes, then settles the state: completed, or partial while a dependency (Keycloak) still owes a
 * step. Cassandra being unreachable stops the run (the request stays in progress for the sweeper).
 */
export async function runRemainingSteps(deps: RunDeps, request: DeletionRequest, userName: string | null = null): Promise<RequestState> {
  const plan = planOf(request)
  for (const step of stepsOf(plan)) {
    if (!step.run) continue
    const done = request.steps[step.name]
    if (done && done.status !== 'pending') continue
    const result = await step.run({ deps, request, plan, userName })
    request.steps[step.name] = result
    await deps.requests.recordStep(request.id, step.name, result, 'in_progress')
    deps.afterStep?.(step.name)
  }
  return settleRequest(deps, request)
}

/**
 * Picks up an open request (crashed runner, or a step still owed) if nobody else holds it, and
 * finishes it. Returns the state reached, or undefined when another runner holds the lease.
 */
export async function resumeDeletion(deps: RunDeps, requestId: string): Promise<RequestState | undefined> {
  const now = deps.clock.now()
  if (!(await deps.requests.acquireLease(requestId, now, new Date(now.getTime() + deps.leaseMs)))) return undefined
  const request = await deps.requests.get(requestId)
  if (!request) return undefined
  if (isFinished(request.state)) return request.state
  if (!request.steps.lock) {
    // Crashed between acceptance and the lock: the deletion was authorised, so finish what was asked.
    const user = await deps.users.findUser(request.userId)
    if (!user) {
      // Its 'deletion.accepted' record needs an outcome, as when deleteUser itself finds the row gone.
      await failRequest(deps, request, 'not-found', now)
      return 'failed'
    }
    if (isDeleted(user)) {
      // Locked already: by this request just before it died, or by another request, which then owns the deletion.
      const others = await deps.requests.findByUser(request.userId, 20)
      if (others.some((other) => other.id !== request.id && other.steps.lock?.status === 'done')) {
        await failRequest(deps, request, 'superseded', now)
        return 'failed'
      }
    } else {
      const locked = await deps.users.markDeleted(user, { requestedBy: request.requestedBy, at: now })
      if (locked.kind === 'changed') return undefined // someone is changing the row right now: next sweep
    }
    await recordLock(deps, request, now)
  }
  return runRemainingSteps(deps, request)
}

/** The sweeper's pass: every open request whose lease has run out is resumed. */
export async function resumeOpenDeletions(deps: RunDeps, limit = 200): Promise<{ resumed: number; completed: number; partial: number }> {
  const report = { resumed: 0, completed: 0, partial: 0 }
  for (const open of await deps.requests.listOpen(limit)) {
    let state: RequestState | undefined
    try {
      state = await resumeDeletion(deps, open.id)
    } catch (err) {
      // One request failing (Cassandra hiccup) must not starve the others; give it back for the next pass.
      deps.onStepError?.('lock', err)
      await deps.requests.releaseLease(open.id).catch(() => undefined)
      continue
    }
    if (state === undefined) continue
    report.resumed++
    if (state === 'completed') report.completed++
    if (state === 'partial') report.partial++
  }
  return report
}
