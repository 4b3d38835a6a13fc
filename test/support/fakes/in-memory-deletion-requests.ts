import {
  STEPS,
  isFinished,
  type DeletionReceipt,
  type DeletionRequest,
  type PlanName,
  type RequestIdChosenBy,
  type RequestState,
  type StepName,
  type StepOutcome,
} from '../../../src/deletion/deletion-request.js'
import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import { fencedLease, LeaseLostError, leaseHoldsAt } from '../../../src/deletion/lease.js'
import type { DeletionRequestStore, OpenEntry } from '../../../src/deletion/ports.js'
import { FailureQueue, Timeline } from './timeline.js'
import { deferred } from '../wait-until.js'

type Method = keyof DeletionRequestStore

/** The fenced writes a test can hold back (holdFenced). */
type HeldWrite = 'create' | 'unlist' | 'relist'

/** A held-back write's gate: `reached` when one waits at it, and they go on once `landed`. */
interface Hold {
  reached: () => void
  landed: Promise<void>
}

interface Row {
  request: DeletionRequest
  leaseUntil: Date
  open: boolean
  /** When a scheduled request's erasure is due (listed open, but not due before). */
  dueAt?: Date
  /** The relay's confirmation (markEventPublished). */
  eventPublishedAt?: Date
  /** When the create that wrote the row was stamped (see WriteStamps): a fenced create stamped before it changes nothing. */
  createdStamp: number
  /** When the last write that listed it (a create, reopen or relist) was stamped: an unlist stamped before it, landing late, changes nothing. */
  listedStamp: number
  /** When the last unlist that landed was stamped: a listing stamped before it, landing late (a held-back relist), changes nothing. */
  unlistedStamp: number
  /** What its open entry kept (a create's, not a fenced create's or a seeded row's): the request as created. */
  kept?: DeletionRequest
}

/** An open entry with no request (a create that never applied), and what it kept of the request. */
interface EntryWithoutRequest {
  entry: Omit<OpenEntry, 'dueAt'>
  kept?: DeletionRequest
}

/** The steps of a write, for the timeline: `lookups,userRow`. */
const stepList = (outcomes: Partial<Record<StepName, StepOutcome>>) => Object.keys(outcomes).join(',')

const EPOCH = new Date(0)

/**
 * Deletion requests in memory, with the Cassandra adapter's semantics:
 * - create of a caller's id is INSERT IF NOT EXISTS: false when the id is taken; the row starts with
 *   no steps, no reason and no receipt, holds the lease until `leaseUntil`, and is listed open; the
 *   target's organisation ids are kept as a set (each once, sorted);
 * - create of an id the service chose is a plain INSERT of the same row: true, and sent again (a
 *   driver's replay) it changes nothing; an id the service chose that is already another request's
 *   breaks the port's promise, so it throws instead of overwriting as Cassandra would;
 * - createFenced is that plain INSERT stamped when called (by the clock, strictly increasing over
 *   every create): 'fence passed', nothing written, once the clock is at or past the fence; the
 *   lease is the earlier of `leaseUntil` and the fence. Held back (holdFencedCreates) and landing
 *   after a create stamped later, it changes nothing, as Cassandra's cells keep the newer write; a
 *   row of another request stamped earlier breaks the port's promise, so it throws; a failure
 *   (failNext) is a lost answer: 'fence passed', nothing written;
 * - a create's entry keeps the request as created (a fenced create's and a seeded row's keep
 *   nothing); createFromEntry creates it again from that, its lease free, once its row is gone
 *   (loseRow: a create that never applied): 'exists' while a row has the id, 'not kept' when the
 *   entry kept nothing or is gone;
 * - acquireLease applies only when the row exists and its lease ran out (leaseUntil < now);
 * - releaseLease and finish set the lease to the epoch, so anyone may take the request at once,
 *   except a finish to a finished state, which keeps the lease it is written under (`heldUntil`);
 * - finish overwrites reason and receipt (absent fields become absent) and leaves the list alone:
 *   a finished request (completed, failed, cancelled) stays listed until unlist; a scheduled one is
 *   due at `dueAt` (as is a partial one given one; null: at once); listOpen answers only what is due, each entry with its request's creation time (an entry
 *   seeded by listWithoutRequest has no request), going round the list (in id order) from where its last
 *   answer that reached the limit stopped; after startRound, listOpen goes from the list's start and
 *   stops at its end, and the first answer short of the limit ends the round (roundEnded); unlist
 *   takes an entry off the list and nothing else (under a `heldUntil` the clock is past, nothing;
 *   under one it holds, it is stamped when called, and held back (holdFencedUnlists) and landing after a
 *   listing stamped later, it changes nothing); reopen lists a request again, due at once, recording its `cancelledBy` when given;
 *   nameCanceller records `cancelledBy` and changes nothing else;
 *   relist lists a request's entry again, due at `dueAt` or at once, and changes nothing else (under
 *   a lease it holds, it is stamped when called, and held back (holdFencedRelists) and landing after
 *   a listing or an unlist stamped later, it changes nothing);
 *   under a `heldUntil` the clock is past, it writes nothing, and finish writes its state but not its `dueAt`;
 * - isClosed: the request is finished and its lease at the epoch (given back); a finish to a
 *   finished state without `heldUntil` breaks the port's promise and throws;
 * - get / findByUser answer copies, steps in the order the workflow runs them; findByUser newest first.
 *
 * - recordSteps adds the outcomes it is given (several steps in one write) and sets the lease; renewLease
 *   sets the lease and nothing else; confirmLease throws LeaseLostError unless the lease is exactly the
 *   one given; finish adds the `steps` it carries; markEventPublished is kept
 *   apart and reads as the event's outcome;
 * - a write fenced by `heldUntil` lands while the clock is before it, or after it while the lease is
 *   still that value; else recordSteps, renewLease, finish, updatePlan, reopen and nameCanceller throw LeaseLostError and releaseLease
 *   does nothing (Cassandra's late-landing writes, which lose by their timestamp, have no
 *   counterpart here: a fake's write lands at once);
 *
 * Every call goes to the timeline: `requests.create`, `requests.recordSteps(<step>,<step>)`,
 * `requests.finish(<state>)`, `requests.acquireLease`, `requests.releaseLease`, ...
 * `failNext(method, err)` makes one call throw (after being recorded).
 */
export class InMemoryDeletionRequests implements DeletionRequestStore {
  /** What create was called with, copied at the time of the call (including refused ones). */
  readonly created: { request: DeletionRequest; leaseUntil: Date; idChosenBy: RequestIdChosenBy; applied: boolean; fence?: Date }[] = []
  /** The last stamped write's stamp (µs by the clock, strictly increasing). */
  private lastStamp = 0
  /** While one is set, that kind of fenced write waits for it once stamped (holdFenced). */
  private readonly heldWrites: Partial<Record<HeldWrite, Hold>> = {}
  private readonly rows = new Map<string, Row>()
  private readonly entriesWithoutRequest = new Map<string, EntryWithoutRequest>()
  /** Where the last listOpen that stopped at its limit stopped (an id: the fake's ring is in id order). */
  private sweptUpTo: string | undefined
  /** A round of the open list (startRound): `going` until a listOpen reaches the list's end. */
  private round: 'none' | 'going' | 'ended' = 'none'
  private readonly failures = new FailureQueue<Method>()

  constructor(
    readonly timeline: Timeline = new Timeline(),
    private readonly clock: { now(): Date } = { now: () => new Date() },
  ) {}

  failNext(method: Method, error: unknown): this {
    this.failures.add(method, error)
    return this
  }

  private enter(method: Method, detail?: string): void {
    this.timeline.record('requests', method, detail)
    this.failures.check(method)
  }

  /** Puts a request in place as it would stand after earlier runs (steps, state, lease), bypassing create. */
  seed(request: DeletionRequest, options: { leaseUntil?: Date; open?: boolean } = {}): this {
    const stamp = this.stamp()
    this.rows.set(request.id, {
      request: structuredClone(request),
      leaseUntil: options.leaseUntil ?? EPOCH,
      open: options.open ?? !isFinished(request.state),
      createdStamp: stamp,
      listedStamp: stamp,
      unlistedStamp: 0,
    })
    return this
  }

  /** Synchronous copy of a stored request, for assertions (not recorded on the timeline). */
  peek(id: string): DeletionRequest | undefined {
    const row = this.rows.get(id)
    return row && this.copy(row)
  }

  leaseOf(id: string): Date | undefined {
    return this.rows.get(id)?.leaseUntil
  }

  isOpen(id: string): boolean {
    return this.rows.get(id)?.open === true
  }

  all(): DeletionRequest[] {
    return [...this.rows.values()].map((row) => this.copy(row))
  }

  private copy(row: Row): DeletionRequest {
    const copy = structuredClone(row.request)
    copy.steps = Object.fromEntries(STEPS.filter((step) => copy.steps[step] !== undefined).map((step) => [step, copy.steps[step]]))
    // Kept apart from the outcomes, as the adapter keeps it: it reads as the event's outcome whatever a run recorded after.
    if (row.eventPublishedAt) copy.steps.event = { status: 'done', action: 'published', at: row.eventPublishedAt.toISOString() }
    return copy
  }

  private row(id: string): Row {
    const row = this.rows.get(id)
    // Cassandra would upsert a partial row here; a fake that answers loudly finds workflow bugs sooner.
    if (!row) throw new Error(`no deletion request ${id}`)
    return row
  }

  async create(request: DeletionRequest, leaseUntil: Date, idChosenBy: RequestIdChosenBy): Promise<boolean> {
    this.enter('create')
    const existing = this.rows.get(request.id)?.request
    const applied = existing === undefined
    this.created.push({ request: structuredClone(request), leaseUntil: new Date(leaseUntil), idChosenBy, applied })
    if (!applied && idChosenBy === 'service') {
      const replay = existing.userId === request.userId && existing.createdAt.getTime() === request.createdAt.getTime()
      if (!replay) throw new Error(`deletion request ${request.id}: an id the service chose is another request's`)
      return true
    }
    if (!applied) return false
    this.store(request, leaseUntil, this.stamp())
    this.row(request.id).kept = structuredClone(request)
    return true
  }

  async createFromEntry(id: string): Promise<DeletionRequest | 'exists' | 'not kept'> {
    this.enter('createFromEntry')
    if (this.rows.has(id)) return 'exists'
    const kept = this.entriesWithoutRequest.get(id)?.kept
    if (!kept) return 'not kept'
    // Its lease free, for the sweeper to take; the entry keeps what it kept.
    this.store(kept, EPOCH, this.stamp())
    this.row(id).kept = structuredClone(kept)
    return this.peek(id) as DeletionRequest
  }

  /**
   * The row of a request never applied, as a create whose answer was lost and whose settle never
   * came can leave it: only its open entry is there, with what the entry kept (if anything).
   */
  loseRow(id: string): void {
    const row = this.row(id)
    this.rows.delete(id)
    const entry = { id, userId: row.request.userId, createdAt: new Date(row.request.createdAt) }
    this.entriesWithoutRequest.set(id, { entry, ...(row.kept && { kept: row.kept }) })
  }

  async createFenced(request: DeletionRequest, leaseUntil: Date, fence: Date): Promise<true | 'fence passed'> {
    try {
      this.enter('createFenced')
    } catch (err) {
      // A lost answer is not settled (as the adapter): the caller goes no further.
      if (err instanceof DependencyUnavailableError) return 'fence passed'
      throw err
    }
    const stamp = this.stamp()
    if (!leaseHoldsAt(fence, this.clock.now())) return 'fence passed'
    const bounded = fencedLease(leaseUntil, fence)
    const held = this.landingIfHeld('create')
    if (held) await held
    const existing = this.rows.get(request.id)
    this.created.push({ request: structuredClone(request), leaseUntil: new Date(bounded), idChosenBy: 'derived', applied: existing === undefined, fence: new Date(fence) })
    if (existing) {
      const replay = existing.request.userId === request.userId && existing.request.createdAt.getTime() === request.createdAt.getTime()
      // A later create wrote every cell this one writes, later: it stands. A replay writes the same.
      if (existing.createdStamp > stamp || replay) return true
      throw new Error(`deletion request ${request.id}: a fenced create meets another request created before it`)
    }
    this.store(request, bounded, stamp)
    return true
  }

  /** Holds back every fenced create from now on (holdFenced). */
  holdFencedCreates(): { reached: Promise<void>; land: () => void } {
    return this.holdFenced('create')
  }

  /** Holds back every unlist under a lease from now on (holdFenced). */
  holdFencedUnlists(): { reached: Promise<void>; land: () => void } {
    return this.holdFenced('unlist')
  }

  /** Holds back every relist under a lease from now on (holdFenced). */
  holdFencedRelists(): { reached: Promise<void>; land: () => void } {
    return this.holdFenced('relist')
  }

  /**
   * Holds back every fenced write of that kind from now on, once stamped, as a stalled connection would:
   * `reached` once one is held, and they all land at `land()`.
   */
  holdFenced(kind: HeldWrite): { reached: Promise<void>; land: () => void } {
    const reached = deferred()
    const landed = deferred()
    this.heldWrites[kind] = { reached: reached.resolve, landed: landed.promise }
    return {
      reached: reached.promise,
      land: () => {
        delete this.heldWrites[kind]
        landed.resolve()
      },
    }
  }

  /**
   * Under a hold of that kind, tells it one is held and gives when they land; else nothing (not a
   * resolved promise), so an unheld write goes on in the same turn.
   */
  private landingIfHeld(kind: HeldWrite): Promise<void> | undefined {
    const held = this.heldWrites[kind]
    if (!held) return undefined
    held.reached()
    return held.landed
  }

  /** A write time for a create, a listing or an unlist under a lease: µs by the clock, strictly increasing. */
  private stamp(): number {
    const now = this.clock.now().getTime() * 1000
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 1
    return this.lastStamp
  }

  private store(request: DeletionRequest, leaseUntil: Date, createdStamp: number): void {
    const { reason: _reason, receipt: _receipt, ...stored } = structuredClone(request)
    // organisationids is a set<text> column: each id once, in sorted order.
    const target = { ...stored.target, organisationIds: [...new Set(stored.target.organisationIds)].sort() }
    this.rows.set(request.id, { request: { ...stored, target, steps: {} }, leaseUntil: new Date(leaseUntil), open: true, createdStamp, listedStamp: createdStamp, unlistedStamp: 0 })
    // The entry Cassandra lists is keyed by the id: a create arriving late lists its request once.
    this.entriesWithoutRequest.delete(request.id)
  }

  async get(id: string): Promise<DeletionRequest | undefined> {
    this.enter('get')
    return this.peek(id)
  }

  async findByUser(userId: string, limit: number): Promise<DeletionRequest[]> {
    this.enter('findByUser')
    return [...this.rows.values()]
      .filter((row) => row.request.userId === userId)
      .map((row) => this.copy(row))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, limit)
  }

  async acquireLease(id: string, now: Date, until: Date): Promise<boolean> {
    this.enter('acquireLease')
    const row = this.rows.get(id)
    // UPDATE ... IF leaseuntil < now: not applied for a missing row or a lease still running.
    if (!row || !(row.leaseUntil.getTime() < now.getTime())) return false
    row.leaseUntil = new Date(until)
    return true
  }

  async releaseLease(id: string, heldUntil?: Date): Promise<void> {
    this.enter('releaseLease')
    const row = this.row(id)
    if (this.holds(row, heldUntil)) row.leaseUntil = EPOCH
  }

  async recordSteps(id: string, outcomes: Partial<Record<StepName, StepOutcome>>, state: RequestState, leaseUntil: Date, heldUntil?: Date): Promise<void> {
    this.enter('recordSteps', stepList(outcomes))
    const row = this.heldRow(id, heldUntil)
    Object.assign(row.request.steps, structuredClone(outcomes))
    row.request.state = state
    row.leaseUntil = new Date(leaseUntil)
    row.request.updatedAt = this.clock.now()
  }

  async renewLease(id: string, leaseUntil: Date, heldUntil: Date): Promise<void> {
    this.enter('renewLease')
    this.heldRow(id, heldUntil).leaseUntil = new Date(leaseUntil)
  }

  async confirmLease(id: string, heldUntil: Date): Promise<void> {
    this.enter('confirmLease')
    // UPDATE ... IF leaseuntil = ?: not applied for a missing row or another lease.
    const row = this.rows.get(id)
    if (!row || row.leaseUntil.getTime() !== heldUntil.getTime()) throw new LeaseLostError(id)
  }

  async finish(
    id: string,
    state: RequestState,
    fields: { receipt?: DeletionReceipt; reason?: string; dueAt?: Date | null; steps?: Partial<Record<StepName, StepOutcome>> },
    heldUntil?: Date,
  ): Promise<void> {
    this.enter('finish', state)
    if (isFinished(state) && !heldUntil) throw new Error(`finish(${state}) without a lease: a finished state is written under the run's lease (see the port)`)
    const row = this.heldRow(id, heldUntil)
    const { reason: _reason, receipt: _receipt, ...rest } = row.request
    row.request = {
      ...rest,
      steps: { ...rest.steps, ...structuredClone(fields.steps ?? {}) },
      state,
      updatedAt: this.clock.now(),
      ...(fields.reason !== undefined && { reason: fields.reason }),
      ...(fields.receipt !== undefined && { receipt: structuredClone(fields.receipt) }),
    }
    // A finished request's lease is kept by its run until it is audited and unlisted.
    row.leaseUntil = isFinished(state) && heldUntil ? new Date(heldUntil) : EPOCH
    // Written with the state while the lease holds; past it (the adapter's compare-and-set) left as it was.
    // Null: due at once.
    if (fields.dueAt !== undefined && (!heldUntil || leaseHoldsAt(heldUntil, this.clock.now()))) {
      if (fields.dueAt) row.dueAt = new Date(fields.dueAt)
      else delete row.dueAt
    }
  }

  async listOpen(limit: number, dueBy: Date = this.clock.now()): Promise<OpenEntry[]> {
    this.enter('listOpen')
    const listed = [...this.rows.values()]
      .filter((row) => row.open && (!row.dueAt || row.dueAt.getTime() <= dueBy.getTime()))
      .map((row) => ({ id: row.request.id, userId: row.request.userId, createdAt: new Date(row.request.createdAt), ...(row.dueAt && { dueAt: new Date(row.dueAt) }) }))
    const withoutRequest = [...this.entriesWithoutRequest.values()].map(({ entry }) => ({ ...entry, createdAt: new Date(entry.createdAt) }))
    // Round the list in id order (Cassandra's: token order), from where the last full answer stopped.
    const ring = [...listed, ...withoutRequest].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const from = this.sweptUpTo
    const after = from === undefined ? ring : ring.filter((entry) => entry.id > from)
    if (this.round === 'going') {
      // A round (startRound) stops at the list's end; the call that reaches it ends the round.
      // As Cassandra's: a call that fills its limit cannot tell whether it reached the end.
      const answer = after.slice(0, limit)
      if (answer.length === limit) this.sweptUpTo = answer[answer.length - 1]?.id
      else {
        this.round = 'ended'
        this.sweptUpTo = undefined
      }
      return answer
    }
    const round = from === undefined ? ring : [...after, ...ring.filter((entry) => entry.id <= from)]
    const answer = round.slice(0, limit)
    if (answer.length === limit) this.sweptUpTo = answer[answer.length - 1]?.id
    return answer
  }

  startRound(): void {
    this.sweptUpTo = undefined
    this.round = 'going'
  }

  roundEnded(): boolean {
    return this.round === 'ended'
  }

  async isListed(id: string): Promise<boolean> {
    this.enter('isListed')
    return this.rows.get(id)?.open === true || this.entriesWithoutRequest.has(id)
  }

  async openEntry(id: string): Promise<OpenEntry | undefined> {
    this.enter('openEntry')
    const row = this.rows.get(id)
    if (row?.open) return { id, userId: row.request.userId, createdAt: new Date(row.request.createdAt), ...(row.dueAt && { dueAt: new Date(row.dueAt) }) }
    const entry = this.entriesWithoutRequest.get(id)?.entry
    return entry && { ...entry, createdAt: new Date(entry.createdAt) }
  }

  async isClosed(id: string): Promise<boolean> {
    this.enter('isClosed')
    const row = this.rows.get(id)
    return row !== undefined && isFinished(row.request.state) && row.leaseUntil.getTime() === EPOCH.getTime()
  }

  async unlist(id: string, heldUntil?: Date): Promise<void> {
    this.enter('unlist')
    const stamp = this.stamp()
    if (heldUntil) {
      // Fenced by the lease as relist is: stamped within it, and past it nothing written.
      if (!leaseHoldsAt(heldUntil, this.clock.now())) return
      const held = this.landingIfHeld('unlist')
      if (held) await held
    }
    this.entriesWithoutRequest.delete(id)
    const row = this.rows.get(id)
    // Landing late, it loses to a listing stamped after it (a later taker's), as Cassandra's cells keep the newer write.
    if (!row) return
    if (row.listedStamp < stamp) row.open = false
    row.unlistedStamp = Math.max(row.unlistedStamp, stamp)
  }

  /**
   * An open entry whose request was never created (a create that never applied), as Cassandra can
   * hold one; `kept`: what the entry kept of the request (absent: a fenced create's, or an earlier version's).
   */
  listWithoutRequest(entry: Omit<OpenEntry, 'dueAt'>, kept?: DeletionRequest): this {
    this.entriesWithoutRequest.set(entry.id, { entry: { ...entry }, ...(kept && { kept: structuredClone(kept) }) })
    return this
  }

  /** Whether a write fenced by `heldUntil` may land (see the class comment). */
  private holds(row: Row, heldUntil: Date | undefined): boolean {
    if (!heldUntil) return true
    return leaseHoldsAt(heldUntil, this.clock.now()) || row.leaseUntil.getTime() === heldUntil.getTime()
  }

  private heldRow(id: string, heldUntil: Date | undefined): Row {
    const row = this.row(id)
    if (!this.holds(row, heldUntil)) throw new LeaseLostError(id)
    return row
  }

  async updatePlan(id: string, plan: PlanName, state: RequestState, heldUntil?: Date): Promise<void> {
    this.enter('updatePlan', plan)
    const row = this.heldRow(id, heldUntil)
    row.request.plan = plan
    row.request.state = state
    row.request.updatedAt = this.clock.now()
  }

  async reopen({ id, cancelledBy }: Pick<DeletionRequest, 'id' | 'userId' | 'createdAt' | 'cancelledBy'>, state: RequestState, heldUntil?: Date): Promise<void> {
    this.enter('reopen', state)
    const row = this.rows.get(id)
    if (!row) throw new Error(`no deletion request ${id} to reopen`)
    if (!this.holds(row, heldUntil)) throw new LeaseLostError(id)
    row.request.state = state
    row.request.updatedAt = this.clock.now()
    if (cancelledBy !== undefined) row.request.cancelledBy = cancelledBy
    row.open = true
    row.listedStamp = this.stamp()
    delete row.dueAt
  }

  async nameCanceller(id: string, cancelledBy: string, heldUntil?: Date): Promise<void> {
    this.enter('nameCanceller')
    this.heldRow(id, heldUntil).request.cancelledBy = cancelledBy
  }

  async relist({ id }: Pick<DeletionRequest, 'id' | 'userId' | 'createdAt'>, dueAt?: Date, heldUntil?: Date): Promise<void> {
    this.enter('relist')
    const row = this.row(id)
    const stamp = this.stamp()
    if (heldUntil) {
      // Fenced by the lease: stamped within it, and past it nothing written (the adapter's stamp would not be within it).
      if (!leaseHoldsAt(heldUntil, this.clock.now())) return
      const held = this.landingIfHeld('relist')
      if (held) await held
    }
    // Landing late, it loses to a later taker's listing or unlist, as Cassandra's cells keep the newer write.
    if (stamp < row.listedStamp || stamp < row.unlistedStamp) return
    row.open = true
    row.listedStamp = stamp
    if (dueAt) row.dueAt = new Date(dueAt)
    else delete row.dueAt
  }

  async markEventPublished(id: string, at: Date): Promise<void> {
    this.enter('markEventPublished')
    this.row(id).eventPublishedAt = new Date(at)
  }
}
