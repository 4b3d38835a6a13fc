import { finishCancel, finishInterruptedCancel } from './cancel-deletion.js'
import { type DeletionRequest, isFinished, outcomeHolds, type RequestState, type StepName, type StepOutcome, tookTheUser } from './deletion-request.js'
import { keptChanging } from './errors.js'
import { isDeleted } from './is-deleted.js'
import { checkpointSteps, closedReadStillFresh, closeFinished, giveBack, LeaseLostError, leaseUntil, reclaimLease } from './lease.js'
import { lockForPlan } from './lock-for-plan.js'
import { tokenHoldersOfRequest } from './caller-lock-out.js'
import { countOwedRun, type OwedRetry } from './owed-retry.js'
import { type AuditTrail, CREATE_SETTLED_WITHIN_MS, type DeletionRequestStore, type OpenEntry, type PhysicalErasure } from './ports.js'
import { auditRecord, failRequest, owedEndRecord, settleRequest } from './settle-request.js'
import { STEPS, stepsOf } from './steps/index.js'
import { recordLock } from './steps/lock.js'
import { mayHaveActedUnrecorded, runStep } from './steps/absent-on-resume.js'
import { contactsOnce, type StepDeps, type StepsProgressed, undecryptedContacts } from './steps/step.js'

export interface RunDeps extends StepDeps {
  requests: DeletionRequestStore
  audit: AuditTrail
  /** How long a runner holds a request without reaching a checkpoint; a crashed runner's request is resumable after it. */
  leaseMs: number
  /** Key of the keyed hash that stands for the user in receipts. */
  receiptKey: string
  /** When each store drops old values physically, for the receipt (absent: the receipt does not say). */
  physicalErasure?: PhysicalErasure | undefined
  /** How long a request owed for want of a dependency waits before the sweeper tries it again (absent: due at once, pass after pass). */
  owedRetry?: OwedRetry | undefined
  /** Told when a step could not be done now (for the log), with the deletion request it was done for when there is one; ids only, never the error's payload. */
  onStepError?(step: StepName, err: unknown, requestId?: string): void
  /** Told when a run stalled past its lease and another runner took its request over (for the log: a lease too short for the slowest step shows here). */
  onLeaseLost?(requestId: string): void
  /**
   * Told when the sweeper drops an open entry whose request never came to exist and that kept
   * nothing to create it from (for the log): a batch item's (`batch-…`) whose answer was lost, which
   * its job settled on its own, or one written by an earlier version.
   */
  onNeverCreated?(requestId: string): void
  /** Told when the sweeper creates a request from its open entry, its create having never applied (for the log). */
  onCreatedFromEntry?(requestId: string): void
  /** Fault injection for crash tests: called once the request is accepted and after each step has run (recorded or not yet). */
  afterStep?(step: StepName | 'accept' | 'schedule' | 'erasure'): void
}

/**
 * Runs every step of the request's plan it has not finished, in order, recording the outcomes at the
 * checkpoints the steps declare and with the finish, then settles the state: completed, partial while a dependency (Keycloak) still owes a step,
 * or scheduled when a grace period's soft phase has run (a step it still owes is retried meanwhile: settleRequest). Cassandra being unreachable stops the run
 * (the request stays in progress for the sweeper). `resumed`: an earlier run of this plan locked the
 * request and stopped (see StepContext.resumed); its steps then record what they find missing as
 * such, at no cost (no write more).
 */
export async function runRemainingSteps(deps: RunDeps, request: DeletionRequest, userName: string | null = null, { resumed = false } = {}): Promise<RequestState> {
  const plan = request.plan
  // Outcomes not written yet: one write at each checkpoint, the rest with the finish (a step record
  // each was two thirds of a deletion's writes in sequence, and as much of Cassandra's CPU).
  let unrecorded: Partial<Record<StepName, StepOutcome>> = {}
  // A grace period's soft phase retrying what it owes reads scheduled throughout: its erasure is still to come at eraseAt.
  const running: RequestState = request.state === 'scheduled' ? 'scheduled' : 'in_progress'
  const checkpoint = async () => {
    if (Object.keys(unrecorded).length === 0) return
    await checkpointSteps(deps, request, unrecorded, running)
    unrecorded = {}
  }
  // The steps that changed something in this run, the managed users' runs of them too (see StepContext.progressed).
  const progressed = new Set<string>()
  // What the run sees of the step in hand, by which its owed outcome counts toward the retry delay or not (owed-retry.ts).
  let stepRun = { toldOfADependency: false, owesPastABound: false, changedSomething: false }
  // The run's `progressed` as each step sees it: what a step adds (its own runs for the managed users' too) says it changed something.
  const stepProgressed: StepsProgressed = {
    has: (step) => progressed.has(step),
    add: (step) => {
      progressed.add(step)
      stepRun.changedSomething = true
    },
  }
  const owesPastABound = () => {
    stepRun.owesPastABound = true
  }
  // The contacts the key did not decrypt, the managed users' included: told once, when the run ends however it ends.
  const undecrypted = undecryptedContacts()
  const stepDeps: RunDeps = {
    ...deps,
    onStepError: (step, err, requestId) => {
      stepRun.toldOfADependency = true
      deps.onStepError?.(step, err, requestId)
    },
    onContactsNotDecrypted: undecrypted.add,
  }
  const readContactsOnce = contactsOnce(stepDeps, request.userId, request.id)
  try {
    for (const step of stepsOf(plan)) {
      if (!step.run) continue
      if (outcomeHolds(request.steps[step.name], plan)) continue
      if (step.checkpointBefore) await checkpoint()
      const name: StepName = step.name
      const recordedBefore = request.steps[name]
      // A step that records before it acts (the Keycloak step's intent) writes through the checkpoint.
      const recordNow = async (outcome: StepOutcome) => {
        request.steps[name] = outcome
        unrecorded[name] = outcome
        await checkpoint()
      }
      let result: StepOutcome
      stepRun = { toldOfADependency: false, owesPastABound: false, changedSomething: false }
      try {
        result = await runStep(step.run, {
          deps: stepDeps,
          request,
          plan,
          userName,
          contacts: readContactsOnce,
          recordNow,
          progressed: stepProgressed,
          owesPastABound,
          resumed: resumed && mayHaveActedUnrecorded(recordedBefore),
        })
      } catch (err) {
        // The run stops here (Cassandra went away): keep what is done if it can still be written, so the retry starts at this step.
        if (!(err instanceof LeaseLostError)) await checkpoint().catch(() => undefined)
        throw err
      }
      result = countOwedRun(result, recordedBefore, stepRun)
      request.steps[step.name] = result
      unrecorded[step.name] = result
      if (step.checkpointAfter?.(result)) await checkpoint()
      deps.afterStep?.(step.name)
    }
    const state = await settleRequest(deps, request, unrecorded)
    if (state === 'scheduled') deps.afterStep?.('schedule')
    return state
  } finally {
    undecrypted.tell(deps, request.id)
  }
}

/** A cancel that took the hold and stopped before it reopened its request, finished: the state the request ends in. */
async function finishInterruptedCancelAs(deps: RunDeps, request: DeletionRequest): Promise<RequestState> {
  return (await finishInterruptedCancel(deps, request)) === 'cancelled' ? 'cancelled' : 'failed'
}

/** How often the sweeper reads the hold again after its change settled as not applied, in one pass. */
const HOLD_CHANGE_TRIES = 3

/**
 * A grace period has run out: the soft deletion turns into its erasure plan. The user's deletion
 * state moves from this request's soft hold to the erasure's, by compare-and-set, so a cancel (or a
 * hard deletion) at the same moment either wins entirely or loses entirely. A cancel that won (the
 * hold is `restoring`) but stopped before it reopened the request (stalled past its lease, or died)
 * is finished here, as a deletion meeting the hold finishes it: the user is let in again.
 * A compare-and-set that settles as not applied is read again before anything is concluded: one
 * that timed out in contention (the gate's and a cancel's serial reads of the row) settles so while
 * the hold is still ours. Only a hold that is no longer ours makes the erasure not ours to run.
 */
async function beginErasure(deps: RunDeps, request: DeletionRequest): Promise<RequestState | undefined> {
  const schedule = request.schedule
  if (!schedule) return undefined
  const erasing = { mode: schedule.plan === 'hard' ? 'hard' : 'sunbird', requestId: request.id } as const
  for (let tries = 1; ; tries++) {
    const held = await deps.states.get(request.userId)
    const ours = held?.requestId === request.id
    if (ours && held.mode === 'restoring') {
      return finishInterruptedCancelAs(deps, request)
    }
    if (ours && held.mode === erasing.mode) break
    if (!ours || held.mode !== 'soft') {
      // Cancelled, or taken over by a hard deletion, in the meantime: this request's erasure is not ours to run.
      await failRequest(deps, request, 'superseded', deps.clock.now())
      return 'failed'
    }
    if (await deps.states.swap(request.userId, held, erasing)) break
    // Still ours after a few tries: the row is too contended now; the next pass tries again.
    if (tries >= HOLD_CHANGE_TRIES) throw keptChanging("the user's deletion state kept changing as the grace period's erasure began")
  }
  await deps.requests.updatePlan(request.id, schedule.plan, 'in_progress', request.heldUntil)
  request.plan = schedule.plan
  request.state = 'in_progress'
  deps.listener.userDeleted(request.userId)
  deps.afterStep?.('erasure')
  // The profile is still whole (the soft phase kept it): the event may name the user if configured to.
  // Not a resumed run: no run of the erasure has erased anything yet (one cut short is resumed as in_progress).
  return runRemainingSteps(deps, request, deps.eventIncludesUserName ? await deps.users.findUserName(request.userId) : null)
}

/** Whether a scheduled request's erasure is due. */
const isDue = (request: Pick<DeletionRequest, 'schedule'>, now: Date) => !request.schedule || request.schedule.eraseAt.getTime() <= now.getTime()

/**
 * Picks up an open request (crashed runner, a step still owed, a grace period run out, a cancel
 * half done) if nobody else holds it, and finishes it. Returns the state reached, or undefined
 * when another runner holds the lease (or took it over while this run stalled) or a scheduled
 * erasure is not due yet. A closed request (finished, its end audited, its lease given back) is
 * only read: its state is answered, nothing written (unless a cancel of it took the hold and
 * stopped before it reopened it: that cancel is finished). A run that fails gives the lease back, so the
 * next pass (or a retry) takes the request up at once; unless its finish may have landed (its end's
 * record then owed: see giveBack), when the lease runs out first.
 */
export async function resumeDeletion(deps: RunDeps, requestId: string): Promise<RequestState | undefined> {
  return (await resumeWithOutcome(deps, requestId)).state
}

/** resumeDeletion, and whether the request was found closed and left as it was (nothing written). */
export async function resumeDeletionReport(deps: RunDeps, requestId: string): Promise<{ state: RequestState | undefined; closed: boolean }> {
  const { state, closed } = await resumeWithOutcome(deps, requestId)
  return { state, closed: closed === true }
}

/** What a resume did: the state reached, and whether the request had already finished (only its list entry was left). */
interface ResumeOutcome {
  state: RequestState | undefined
  alreadyFinished: boolean
  /** Closed, and only read. */
  closed?: true
}

/** `listed`: the sweeper found it on the open list, so a closed request's entry came back and is taken off again. */
async function resumeWithOutcome(deps: RunDeps, requestId: string, listed = false): Promise<ResumeOutcome> {
  // Read before the lease is taken, which overwrites what says it: a closed request's end is never audited again.
  const readAt = deps.clock.now()
  let closed = await deps.requests.isClosed(requestId)
  if (closed && !listed) {
    const found = await deps.requests.get(requestId)
    // Unless a cancel of it took its hold and stopped before it reopened it: that cancel is finished here.
    if (!found || !(await holdsRestoring(deps, found))) return { state: found?.state, alreadyFinished: true, closed: true }
  }
  const now = deps.clock.now()
  const until = leaseUntil(deps, now)
  if (!(await deps.requests.acquireLease(requestId, now, until))) return { state: undefined, alreadyFinished: false }
  // A run that stalled between the read and the lease may have read a state changed since.
  if (closed && !closedReadStillFresh(deps, readAt)) closed = false
  const request = await deps.requests.get(requestId)
  if (!request) return { state: undefined, alreadyFinished: false }
  request.heldUntil = until
  const finished = isFinished(request.state)
  try {
    const state = await resumeHeld(deps, request, now, { closed })
    // Finished before this run, and only its list entry was left to take off (with its record if owed).
    return { state, alreadyFinished: finished && state !== undefined }
  } catch (err) {
    if (err instanceof LeaseLostError) {
      deps.onLeaseLost?.(request.id)
      return { state: undefined, alreadyFinished: false }
    }
    await giveBack(deps, request).catch(() => undefined)
    throw err
  }
}

/** A step of the request is still owed (a grace period's soft phase: its search engine, Redis or Keycloak was down). */
const owesAStep = (request: DeletionRequest) => STEPS.some((step) => request.steps[step]?.status === 'pending')

/**
 * A grace period listed as due before its end: its soft phase still owes a step (settled due at
 * once for that), a cancel listed it and stopped before it reopened the request (its swap of the
 * hold landed or not), or its due time was never saved. A cancel that took the hold is finished
 * here (the user waits for no grace period to be let in again); a hold another deletion took ends
 * the request superseded, as its erasure would; a step still owed is tried again (the request
 * stays scheduled, due again when owed-retry.ts says while it owes one, at eraseAt once it owes none: settleRequest);
 * else the entry's due time is put back, so the sweeper stops picking it up pass after pass. That
 * write is fenced by the lease (a run past it takes it back first: reclaimLease), so it never
 * pushes back the due time of a cancel that takes the request after it, however late it lands.
 */
async function scheduledNotDue(deps: RunDeps, request: DeletionRequest): Promise<RequestState | undefined> {
  const held = await deps.states.get(request.userId)
  if (held?.requestId !== request.id) {
    await failRequest(deps, request, 'superseded', deps.clock.now())
    return 'failed'
  }
  if (held.mode === 'restoring') return finishInterruptedCancelAs(deps, request)
  // Its lock was recorded before: what a retry finds missing may be what an earlier attempt erased.
  if (held.mode === 'soft' && request.plan === 'soft' && owesAStep(request)) return runRemainingSteps(deps, request, null, { resumed: true })
  if (request.schedule) {
    await reclaimLease(deps, request)
    await deps.requests.relist(request, request.schedule.eraseAt, request.heldUntil)
  }
  await giveBack(deps, request)
  return undefined
}

/** Whether the user's hold is this completed request's `restoring` one (a cancel of it that stopped before it reopened it). */
async function holdsRestoring(deps: RunDeps, request: DeletionRequest): Promise<boolean> {
  if (request.state !== 'completed') return false
  const held = await deps.states.get(request.userId)
  return held?.mode === 'restoring' && held.requestId === request.id
}

/**
 * resumeDeletion once the lease is held: what the request's state says is left to do. `closed`:
 * it was closed (isClosed) just before the lease was taken.
 */
async function resumeHeld(deps: RunDeps, request: DeletionRequest, now: Date, { closed }: { closed: boolean }): Promise<RequestState | undefined> {
  if (isFinished(request.state)) {
    // Its lease run out (not given back): its runner died (or its append failed) before its end's
    // record, or its unlist was lost; the record is stored here (at worst again), then the request
    // closed, so it costs the sweeper nothing from the next pass on. Closed (its lease given back):
    // a replica brought its entry back (down past the tombstone window), and it is only unlisted
    // again; so is one that is unlisted (unlisted after its record, its lease not given back since:
    // nothing unlists before the record). A cancel that took the hold and died before it reopened the request is finished
    // instead (it stored the record first). While the record may be owed, the lease is kept if this
    // run stops (a lease given back says closed).
    if (!closed) request.closeOwed = true
    const audited = closed || !(await deps.requests.isListed(request.id))
    if (audited) delete request.closeOwed
    if (await holdsRestoring(deps, request)) {
      delete request.closeOwed
      return finishInterruptedCancelAs(deps, request)
    }
    const owed = audited ? undefined : owedEndRecord(request)
    if (owed) await deps.audit.append(owed)
    await closeFinished(deps, request)
    return request.state
  }
  if (request.state === 'cancelling') {
    // A cancel that lost the user to another deletion ends its request failed (superseded).
    return (await finishCancel(deps, request)) === 'cancelled' ? 'cancelled' : 'failed'
  }
  if (request.state === 'scheduled') {
    if (!isDue(request, now)) return scheduledNotDue(deps, request)
    return beginErasure(deps, request)
  }
  // Locked by an earlier run, which may have erased more than the outcomes it recorded say.
  const lockedBefore = request.steps.lock?.status === 'done'
  if (!lockedBefore) {
    if (request.plan !== 'sunbird') {
      // A mode request that died before (or while) taking its lock: take it now, by the same rules.
      const locked = await lockForPlan(deps, request, tokenHoldersOfRequest(request))
      if (locked.kind === 'refused') return 'failed'
      return runRemainingSteps(deps, request)
    }
    // Crashed between acceptance and the lock: the deletion was authorised, so finish what was asked.
    const user = await deps.users.findUser(request.userId)
    if (!user) {
      // Its 'deletion.accepted' record needs an outcome, as when deleteUser itself finds the row gone.
      await failRequest(deps, request, 'not-found', now)
      return 'failed'
    }
    let lockedNow = false
    if (!isDeleted(user)) {
      const locked = await deps.users.markDeleted(user, { requestedBy: request.requestedBy, at: now })
      // Someone is changing the row right now, or the lock's answer was lost: next sweep reads it again.
      if (locked.kind === 'changed' || locked.kind === 'unknown') return undefined
      lockedNow = locked.kind === 'deleted'
    }
    // Locked already (read so, or by the time of our lock): by this request just before it died (or
    // lost its lock's answer), or by another request, which then owns the deletion.
    const owner = lockedNow ? 'this' : await whoseLock(deps, request)
    if (owner === 'undecided') return undefined
    if (owner === 'another') {
      await failRequest(deps, request, 'superseded', now)
      return 'failed'
    }
    await recordLock(deps, request, now)
  }
  return runRemainingSteps(deps, request, null, { resumed: lockedBefore })
}

/**
 * Another request without a mode, still open with no lock outcome recorded, created before this
 * one (the id breaks a tie): its lock the deleted row is taken to be, as it is the one a resume
 * settles first. This request waits for it ('undecided'): once it records its lock this one is
 * superseded; if it ends without one, this one reads the row again.
 */
function contendsEarlier(other: DeletionRequest, request: DeletionRequest): boolean {
  if (other.plan !== 'sunbird' || other.steps.lock !== undefined || isFinished(other.state)) return false
  const [a, b] = [other.createdAt.getTime(), request.createdAt.getTime()]
  return a < b || (a === b && other.id < request.id)
}

/** How much earlier than a request's acceptance another deletion must have ended to be told apart from it: the instances' clocks, and the moment between the read of the row and the create. */
const ENDED_BEFORE_MARGIN_MS = 60_000

/**
 * Whether a deletion ended before this request (without a mode) was accepted. Such a request is
 * only created once the row read not deleted (deleteUser refuses a deleted user first), so the user
 * was put back since that deletion (a backup restored, the user re-created): neither its hold nor
 * its recorded lock is what stands on the row now.
 */
function endedBeforeAccepted(other: DeletionRequest, request: DeletionRequest): boolean {
  return isFinished(other.state) && other.updatedAt.getTime() < request.createdAt.getTime() - ENDED_BEFORE_MARGIN_MS
}

/**
 * Whose lock the deleted row of a request's user is, for a request without a mode that died before
 * its lock (or lost the lock's answer) and finds the row deleted. Another request's when:
 * - the user's deletion state names another request: a soft or hard deletion takes that hold
 *   before it locks the row and keeps it (as do a grace period's erasure and a cancel restoring);
 *   read LOCAL_SERIAL, so a hold taken on any instance is seen;
 * - or another request recorded a lock outcome, done or not yet (a soft or hard deletion records
 *   it `pending` before its compare-and-set, and it stays so while recording the lock fails), and
 *   has not ended failed or cancelled: a failed request lost the row or was taken over, and a
 *   cancelled one put it back.
 * A deletion that ended before this request was accepted is neither (endedBeforeAccepted): the
 * user was put back since. Another such request without a mode, older and still open, is waited for
 * (contendsEarlier).
 * Else this request's own earlier attempt locked it, provided the row, read again after those,
 * still says deleted: a cancel puts the row back before it clears its hold, so one that finished
 * since the first read is seen here, and the next pass locks the row anew ('undecided').
 */
async function whoseLock(deps: RunDeps, request: DeletionRequest): Promise<'this' | 'another' | 'undecided'> {
  const held = await deps.states.get(request.userId)
  if (held && held.requestId !== request.id) {
    const holder = await deps.requests.get(held.requestId)
    if (!holder || !endedBeforeAccepted(holder, request)) return 'another'
  }
  const others = await deps.requests.findByUser(request.userId, 20)
  if (others.some((other) => other.id !== request.id && tookTheUser(other) && !endedBeforeAccepted(other, request))) return 'another'
  // Two such requests, resumed at once on two instances, would each read the row as its own lock.
  if (others.some((other) => other.id !== request.id && contendsEarlier(other, request))) return 'undecided'
  const again = await deps.users.findUser(request.userId)
  return again && isDeleted(again) ? 'this' : 'undecided'
}

/**
 * An entry is written before its request, and a create whose answer was lost is settled for
 * CREATE_SETTLED_WITHIN_MS: an entry twice that old with no request names one no create will make.
 * Its caller may have been answered "accepted" (the answer of a create not known in place), so the
 * request is created from what the entry kept and carried out like any other (its acceptance
 * audited first, as its runner would have). An entry that kept nothing (a batch item's, settled by
 * its job; one written by an earlier version) is unlisted: left listed, it would cost a lightweight
 * transaction on every pass and, in numbers, crowd the requests that do exist out of the pass's limit.
 */
async function settleNeverCreated(deps: RunDeps, entry: OpenEntry, now: Date): Promise<NeverCreated> {
  const createdFrom = new Date(entry.createdAt.getTime() + 2 * CREATE_SETTLED_WITHIN_MS)
  if (now.getTime() < createdFrom.getTime()) return { outcome: 'settling', createdFrom }
  if (await deps.requests.get(entry.id)) return { outcome: 'exists' }
  const created = await deps.requests.createFromEntry(entry.id)
  if (created === 'exists') return { outcome: 'exists' }
  if (created === 'not kept') {
    await deps.requests.unlist(entry.id)
    deps.onNeverCreated?.(entry.id)
    return { outcome: 'not kept' }
  }
  deps.onCreatedFromEntry?.(entry.id)
  // As openRequest: a record that cannot be stored does not stop a request that exists.
  await deps.audit.append(auditRecord(created, 'deletion.accepted', created.createdAt)).catch((err: unknown) => deps.onStepError?.('lock', err, entry.id))
  return { outcome: 'created', state: (await resumeWithOutcome(deps, entry.id)).state }
}

/**
 * What became of an open entry with no request: created from it and resumed (`state` undefined when
 * another runner took it first); too young, its create perhaps still settling (`createdFrom`: when
 * it may be created from the entry); a request found after all; or an entry that kept nothing (unlisted).
 */
export type NeverCreated = { outcome: 'created'; state: RequestState | undefined } | { outcome: 'settling'; createdFrom: Date } | { outcome: 'exists' } | { outcome: 'not kept' }

/**
 * `npm run deletion:resume -- <id>` of an id that has no request: its open entry settled as the
 * sweeper settles it (settleNeverCreated), at once rather than at the sweeper's next pass.
 * Undefined when the id has no entry either.
 */
export async function resumeFromEntry(deps: RunDeps, requestId: string): Promise<NeverCreated | undefined> {
  const entry = await deps.requests.openEntry(requestId)
  return entry && settleNeverCreated(deps, entry, deps.clock.now())
}

/** What one sweeper pass did: requests it carried on (and how they ended), and entries of finished requests it only unlisted. */
export interface SweepReport {
  resumed: number
  completed: number
  partial: number
  unlisted: number
}

/**
 * The sweeper's pass: every open request whose lease has run out (and, when scheduled, whose
 * erasure is due; when owed for want of a dependency, whose retry delay has passed) is resumed.
 * `owedWaitsWithinMs` (`npm run deletion:resume`: the longest delay any instance may be configured
 * with, not this one's, which may be shorter or none): owed requests still waiting out a retry
 * delay are taken up too, by listing what is due within it (a grace period ending within it is only
 * found not due, and listed at its end again).
 */
export async function resumeOpenDeletions(deps: RunDeps, limit = 200, stopping?: AbortSignal, { owedWaitsWithinMs = 0 } = {}): Promise<SweepReport> {
  const report = { resumed: 0, completed: 0, partial: 0, unlisted: 0 }
  const now = deps.clock.now()
  const dueBy = new Date(now.getTime() + owedWaitsWithinMs)
  for (const open of await deps.requests.listOpen(limit, dueBy)) {
    // At shutdown the request in hand finishes (and gives its lease back); the rest wait for another instance.
    if (stopping?.aborted) break
    let state: RequestState | undefined
    try {
      const outcome = await resumeWithOutcome(deps, open.id, true)
      if (outcome.alreadyFinished) {
        report.unlisted++
        continue
      }
      state = outcome.state
    } catch (err) {
      // One request failing (Cassandra hiccup, Keycloak down during a cancel) must not starve the others; resumeDeletion gave it back for the next pass.
      deps.onStepError?.('lock', err, open.id)
      continue
    }
    if (state === undefined) {
      try {
        const settled = await settleNeverCreated(deps, open, now)
        if (settled.outcome === 'created') state = settled.state
      } catch (err) {
        deps.onStepError?.('lock', err, open.id)
      }
      if (state === undefined) continue
    }
    report.resumed++
    if (state === 'completed') report.completed++
    if (state === 'partial') report.partial++
  }
  return report
}
