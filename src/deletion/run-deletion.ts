import { buildDeleteUserEvent } from './build-event.js'
import { STEPS, type DeletionRequest, type RequestState, type StepName, type StepOutcome } from './deletion-request.js'
import { DependencyUnavailableError } from './errors.js'
import type { AuditTrail, Clock, DeletionListener, DeletionRequestStore, EventOutbox, IdentityProvider, UserStore } from './ports.js'
import { buildReceipt } from './receipt.js'

export interface RunDeps {
  users: UserStore
  identity: IdentityProvider
  requests: DeletionRequestStore
  outbox: EventOutbox
  audit: AuditTrail
  listener: DeletionListener
  clock: Clock
  /** How long a runner holds a request; a crashed runner's request is resumable after it. */
  leaseMs: number
  /** Key of the keyed hash that stands for the user in receipts. */
  receiptKey: string
  /** Whether the event may carry the username (default no: the consumer does not need it). */
  eventIncludesUserName: boolean
  /** Told when a step could not be done now (for the log); ids only, never the error's payload. */
  onStepError?(step: StepName, err: unknown): void
  /** Fault injection for crash tests: called once the request is accepted and after each step is recorded. */
  afterStep?(step: StepName | 'accept'): void
}

const outcome = (status: StepOutcome['status'], action: string, at: Date, count?: number): StepOutcome => ({
  status,
  action,
  at: at.toISOString(),
  ...(count !== undefined && { count }),
})

/** One step, idempotent: running it again after a crash is harmless. */
async function runStep(deps: RunDeps, request: DeletionRequest, step: Exclude<StepName, 'lock'>, userName: string | null): Promise<StepOutcome> {
  const { users, clock } = deps
  const userId = request.userId
  switch (step) {
    case 'keycloak':
      try {
        return outcome('done', await deps.identity.eraseAccount(userId), clock.now())
      } catch (err) {
        // Keycloak out of reach, or refusing us (e.g. a revoked service client): the Cassandra side
        // still completes, the request stays partial, and the sweeper comes back for this step.
        const unreachable = err instanceof DependencyUnavailableError && err.dependency === 'keycloak'
        deps.onStepError?.(step, err)
        return outcome('pending', unreachable ? 'unreachable' : 'refused', clock.now())
      }
    case 'lookups':
      return outcome('done', 'deleted', clock.now(), await users.eraseLookups(userId))
    case 'externalIdentities':
      return outcome('done', 'deleted', clock.now(), await users.eraseExternalIdentities(userId))
    case 'organisations':
      return outcome('done', 'marked-left', clock.now(), await users.leaveOrganisations(userId, clock.now()))
    case 'userRow':
      await users.scrubProfile(userId, { requestedBy: request.requestedBy, at: clock.now() })
      return outcome('done', 'scrubbed', clock.now())
    case 'managedUsers': {
      const managed = await users.findManagedUserIds(userId)
      for (const childId of managed) {
        await users.scrubProfile(childId, { requestedBy: request.requestedBy, at: clock.now() })
        await users.eraseLookups(childId)
        await users.eraseExternalIdentities(childId)
        await users.leaveOrganisations(childId, clock.now())
        deps.listener.userDeleted(childId)
      }
      return outcome(managed.length ? 'done' : 'skipped', 'scrubbed', clock.now(), managed.length)
    }
    case 'event': {
      const organisationId = request.target.rootOrgId
      const [managedUsers, orgAdmins] = await Promise.all([users.findManagedUserIds(userId), organisationId ? users.findOrgAdminIds(organisationId, 250) : Promise.resolve([])])
      const event = buildDeleteUserEvent({
        requestId: request.id,
        userId,
        organisationId,
        userName: deps.eventIncludesUserName ? userName : null,
        suggestedUsers: [{ role: 'ORG_ADMIN', users: orgAdmins.filter((id) => id !== userId) }],
        managedUsers,
        now: clock.now(),
      })
      await deps.outbox.append(request.id, event)
      return outcome('done', 'queued', clock.now())
    }
  }
}

/**
 * Runs every step the request has not finished, in order, recording each outcome as it goes, then
 * settles the state: completed, or partial while a dependency (Keycloak) still owes a step.
 * Cassandra being unreachable stops the run (the request stays in progress for the sweeper).
 */
export async function runRemainingSteps(deps: RunDeps, request: DeletionRequest, userName: string | null = null): Promise<RequestState> {
  for (const step of STEPS) {
    if (step === 'lock') continue
    const done = request.steps[step]
    if (done && done.status !== 'pending') continue
    const result = await runStep(deps, request, step, userName)
    request.steps[step] = result
    await deps.requests.recordStep(request.id, step, result, 'in_progress')
    deps.afterStep?.(step)
  }
  const state: RequestState = Object.values(request.steps).some((s) => s?.status === 'pending') ? 'partial' : 'completed'
  const now = deps.clock.now()
  const receipt = buildReceipt(request, state, deps.receiptKey, now)
  await deps.requests.finish(request.id, state, { receipt })
  request.state = state
  request.receipt = receipt
  await deps.audit.append({
    event: state === 'completed' ? 'deletion.completed' : 'deletion.partial',
    requestId: request.id,
    userId: request.userId,
    requestedBy: request.requestedBy,
    at: now.toISOString(),
    ...(state === 'partial' && { detail: { pending: STEPS.filter((s) => request.steps[s]?.status === 'pending').join(',') } }),
  })
  return state
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
  if (request.state === 'completed' || request.state === 'failed') return request.state
  if (!request.steps.lock) {
    // Crashed between acceptance and the lock: the deletion was authorised, so finish what was asked.
    const user = await deps.users.findUser(request.userId)
    if (!user) {
      await deps.requests.finish(request.id, 'failed', { reason: 'not-found' })
      // Its 'deletion.accepted' record needs an outcome, as when deleteUser itself finds the row gone.
      await deps.audit.append({ event: 'deletion.failed', requestId: request.id, userId: request.userId, requestedBy: request.requestedBy, at: now.toISOString(), detail: { reason: 'not-found' } })
      return 'failed'
    }
    if (user.status === 2 && user.isDeleted === true) {
      // Locked already: by this request just before it died, or by another request, which then owns the deletion.
      const others = await deps.requests.findByUser(request.userId, 20)
      if (others.some((other) => other.id !== request.id && other.steps.lock?.status === 'done')) {
        await deps.requests.finish(request.id, 'failed', { reason: 'superseded' })
        await deps.audit.append({ event: 'deletion.failed', requestId: request.id, userId: request.userId, requestedBy: request.requestedBy, at: now.toISOString(), detail: { reason: 'superseded' } })
        return 'failed'
      }
    } else {
      const locked = await deps.users.markDeleted(user, { requestedBy: request.requestedBy, at: now })
      if (locked.kind === 'changed') return undefined // someone is changing the row right now: next sweep
    }
    deps.listener.userDeleted(request.userId)
    request.steps.lock = outcome('done', 'locked', now)
    await deps.requests.recordStep(request.id, 'lock', request.steps.lock, 'in_progress')
    deps.afterStep?.('lock')
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
