import { type Client, types } from 'cassandra-driver'
import { type DeletionReceipt, type DeletionRequest, isFinished, type PlanName, type RequestIdChosenBy, type RequestState, type StepName, type StepOutcome } from '../deletion/deletion-request.js'
import { CREATE_SETTLED_WITHIN_MS, type DeletionRequestStore, type OpenEntry } from '../deletion/ports.js'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { fencedLease, LeaseLostError } from '../deletion/lease.js'
import { BackgroundSettles } from './background-settles.js'
import { IDEMPOTENT, runCassandra, writeTogether } from './cassandra-call.js'
import { requestOfRow } from './deletion-request-row.js'
import { type DeletionRequestStatements, deletionRequestStatements } from './deletion-request-statements.js'
import { keptRequest, keptValue } from './open-entry-kept-request.js'
import { OpenListRing, openEntryOf } from './open-list-ring.js'
import { pauseBeforeSettleRound, SETTLE_BUDGET_MS } from './settle-rounds.js'
import { stampedWithin, WriteStamps } from './write-stamps.js'

/** A lease nobody holds: the epoch. */
const NO_LEASE = new Date(0)

/** Step outcomes as the steps map stores them: JSON per step. */
const encodeSteps = (outcomes: Partial<Record<StepName, StepOutcome>>): Record<string, string> => Object.fromEntries(Object.entries(outcomes).map(([step, outcome]) => [step, JSON.stringify(outcome)]))

/**
 * user_deletion_request (one row per request, ids and outcomes only) and
 * user_deletion_request_open (what the sweeper still has to look at, with when it is due).
 */
export class CassandraDeletionRequests implements DeletionRequestStore {
  private readonly cql: DeletionRequestStatements
  /** Timestamps of the writes fenced by a lease (see writeUnderLease). */
  private readonly stamps = new WriteStamps()
  /** The sweeper's work list: the open list read as a ring, and where it stopped. */
  private readonly openList: OpenListRing
  /** Creates whose answer was lost, settling in the background (keepSettling), and withdrawals of what a failed entry write kept (keepWithdrawing). */
  private readonly background = new BackgroundSettles()
  /** The requests whose unreadable receipt was told already: once each, not at every status poll or sweeper pass (only damaged rows get here). */
  private readonly toldUnreadable = new Set<string>()

  /**
   * `onUnreadableReceipt`: told once per request (for the log and the metrics) when its receipt
   * column holds text that is not a receipt; the request is read without it.
   */
  constructor(
    private readonly client: Client,
    keyspace: string,
    private readonly events: { onUnreadableReceipt?(requestId: string): void } = {},
  ) {
    this.cql = deletionRequestStatements(keyspace)
    this.openList = new OpenListRing(client, this.cql)
  }

  private readonly requestFromRow = (row: types.Row): DeletionRequest =>
    requestOfRow(row, (requestId) => {
      if (this.toldUnreadable.has(requestId)) return
      this.toldUnreadable.add(requestId)
      this.events.onUnreadableReceipt?.(requestId)
    })

  async create(request: DeletionRequest, leaseUntil: Date, idChosenBy: RequestIdChosenBy): Promise<boolean | 'unknown'> {
    // Listed open first: a request that exists is always open, so the sweeper finishes it whatever
    // happens to its runner. An entry whose request was never created is created from what it kept
    // by the sweeper (createFromEntry).
    await this.listKeeping(request)
    try {
      if (idChosenBy === 'service') return await this.write(request, leaseUntil)
      // A taken id is left listed, even when its request reads closed: one closed may still owe a
      // cancel (one that took its user's hold, listed it, and gave its lease back before it could
      // reopen it), which only the sweeper can tell, from the hold; it unlists one that owes nothing.
      return await this.insert(request, leaseUntil)
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
      // A lost answer is settled the same way for either kind of create: the serial read finds a
      // plain write that landed as ours. Not by sending the plain write again: arriving after the
      // sweeper has taken the request on, it would set it back to accepted with no steps.
      const settled = await this.settleCreateNow(request, leaseUntil, Date.now() + SETTLE_BUDGET_MS)
      if (settled === 'unknown') this.settleInBackground(request, leaseUntil)
      return settled
    }
  }

  async createFenced(request: DeletionRequest, leaseUntil: Date, fence: Date): Promise<true | 'fence passed'> {
    // One stamp within the fence for the entry and the row, whenever they land: the lease's next
    // holder writes only past the fence, so a copy of either that lands after its writes loses
    // cell by cell and changes nothing.
    const stamp = this.stamps.next()
    if (!stampedWithin(stamp, fence)) return 'fence passed'
    const stamped = { ...IDEMPOTENT, timestamp: stamp }
    try {
      // Listed open first, as create does.
      await runCassandra(this.client, (client) => client.execute(this.cql.list, [request.id, request.userId, request.createdAt], stamped))
      await runCassandra(this.client, (client) => client.execute(this.cql.createServiceId, this.createValues(request, fencedLease(leaseUntil, fence)), stamped))
      return true
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
      // Not settled, unlike create: a settle may outlast the fence and then create the request behind
      // the lease's next holder. The work stops here; that holder finds the request if it landed.
      return 'fence passed'
    }
  }

  /**
   * The create's answer was lost while its caller waits: read back and, while the row is not there,
   * send the create again (whichever copy applies writes the same row; the others find it ours), until
   * the answer is known or `settleBy`. The caller's answer follows the lock, which only a request
   * known to exist goes on to take: an unknown create is answered "accepted" without it, and of two
   * concurrent deletions both callers would hear 200.
   */
  private async settleCreateNow(request: DeletionRequest, leaseUntil: Date, settleBy: number, round = 0): Promise<boolean | 'unknown'> {
    const settled = await this.settleCreate(request)
    if (settled === true || settled === false) return settled
    if (Date.now() >= settleBy) return 'unknown'
    if (settled === 'absent') {
      try {
        return await this.insert(request, leaseUntil, true)
      } catch (err) {
        if (!(err instanceof DependencyUnavailableError)) throw err
      }
    }
    await pauseBeforeSettleRound(round)
    return this.settleCreateNow(request, leaseUntil, settleBy, round + 1)
  }

  async isClosed(id: string): Promise<boolean> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.closed, [id], IDEMPOTENT))).first()
    const leaseUntil = row?.get('leaseuntil') as Date | null | undefined
    return row !== null && row !== undefined && isFinished(row.get('state') as RequestState) && (!leaseUntil || leaseUntil.getTime() <= 0)
  }

  async isListed(id: string): Promise<boolean> {
    return (await runCassandra(this.client, (client) => client.execute(this.cql.listed, [id], IDEMPOTENT))).rows.length > 0
  }

  async createFromEntry(id: string): Promise<DeletionRequest | 'exists' | 'not kept'> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.kept, [id], IDEMPOTENT))).first()
    const request = row ? keptRequest(id, row) : undefined
    if (!request) return 'not kept'
    try {
      // Its lease free: the sweeper takes it as it takes any open request.
      return (await this.insert(request, NO_LEASE)) ? request : 'exists'
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError)) throw err
      // Its answer lost: ours if it landed (the same user and creation time), so its acceptance is still audited.
      if ((await this.settleCreate(request)) === true) return request
      throw err
    }
  }

  /**
   * Lists the request open, keeping what it is created with (keptValue). An entry whose write fails
   * may land all the same while its caller hears "retry": what it kept is withdrawn (keepWithdrawing),
   * stamped just after it, so it goes whenever either lands and a later create of the id (stamped
   * later) keeps its own.
   */
  private async listKeeping(request: DeletionRequest): Promise<void> {
    const stamp = this.stamps.next()
    // Taken now, so no later create of the id on this instance is stamped at or before it (a tombstone wins a tie).
    const withdrawAt = this.stamps.next()
    try {
      await runCassandra(this.client, (client) => client.execute(this.cql.open, [request.id, request.userId, request.createdAt, keptValue(request)], { ...IDEMPOTENT, timestamp: stamp }))
    } catch (err) {
      if (err instanceof DependencyUnavailableError) this.background.track(request.id, 'withdrawal', () => this.keepWithdrawing(request.id, withdrawAt))
      throw err
    }
  }

  /** The created row's values, in the order of both create statements. */
  private createValues(request: DeletionRequest, leaseUntil: Date): unknown[] {
    const { target } = request
    // A request without a mode leaves the new columns unset (not even a null is written), as every request was before modes.
    const plan = request.plan === 'sunbird' ? types.unset : request.plan
    return [
      request.id,
      request.userId,
      request.requestedBy,
      request.state,
      plan,
      request.schedule?.plan ?? types.unset,
      request.schedule?.eraseAt ?? types.unset,
      target.rootOrgId,
      target.managedBy,
      target.organisationIds,
      leaseUntil,
      request.createdAt,
      request.updatedAt,
    ]
  }

  /** The create of an id this service generated: no other create names it, so no compare-and-set; the driver may replay it (the same row, at the same write time). */
  private async write(request: DeletionRequest, leaseUntil: Date): Promise<true> {
    await runCassandra(this.client, (client) => client.execute(this.cql.createServiceId, this.createValues(request, leaseUntil), IDEMPOTENT))
    return true
  }

  private async insert(request: DeletionRequest, leaseUntil: Date, again = false): Promise<boolean> {
    // A lightweight transaction is not idempotent: the driver must not replay it on its own.
    const result = await runCassandra(this.client, (client) => client.execute(this.cql.create, this.createValues(request, leaseUntil), { prepare: true }))
    if (result.wasApplied()) return true
    if (!again) return false
    // A create sent again: the row there may be ours, from the earlier copy whose answer was lost.
    const existing = result.first()
    return existing !== null && existing.get('userid') === request.userId && (existing.get('createdat') as Date | null)?.getTime() === request.createdAt.getTime()
  }

  /**
   * The create's answer was lost: a serial read finishes any round already accepted. Our row (same
   * user, same creation time) means created; another row means the id was taken. No row is not
   * final: the insert itself may still be queued on a stalled (paused, overloaded) node and apply
   * after the read, so it is unknown too (the caller is told accepted, and keepSettling creates the
   * request if it never arrives). Answering "retry" there was seen to be untrue under faults: a 503
   * for a deletion that then completed. A failed read: unknown.
   */
  private async settleCreate(request: DeletionRequest): Promise<boolean | 'unknown' | 'absent'> {
    let row: types.Row | null
    try {
      row = (await runCassandra(this.client, (client) => client.execute(this.cql.created, [request.id], { prepare: true, consistency: types.consistencies.localSerial }))).first()
    } catch (err) {
      if (err instanceof DependencyUnavailableError) return 'unknown'
      throw err
    }
    if (!row) return 'absent'
    return row.get('userid') === request.userId && (row.get('createdat') as Date).getTime() === request.createdAt.getTime()
  }

  /** keepSettling, kept track of until it ends, so that shutdown can wait for it (finishSettling). */
  private settleInBackground(request: DeletionRequest, leaseUntil: Date): void {
    this.background.track(request.id, 'create', () => this.keepSettling(request, leaseUntil))
  }

  /**
   * What an entry whose write failed kept is withdrawn once Cassandra answers again (see
   * listKeeping), stamped `stamp`: tried until the sweeper could create a request from the entry
   * (twice CREATE_SETTLED_WITHIN_MS), which it can only do with Cassandra answering too.
   */
  private async keepWithdrawing(id: string, stamp: number): Promise<void> {
    const until = Date.now() + 2 * CREATE_SETTLED_WITHIN_MS
    for (;;) {
      try {
        await runCassandra(this.client, (client) => client.execute(this.cql.withdraw, [id], { ...IDEMPOTENT, timestamp: stamp }))
        return
      } catch (err) {
        if (!(err instanceof DependencyUnavailableError) || Date.now() >= until) throw err
        await this.background.pause()
      }
    }
  }

  /**
   * Shutdown: each create settling in the background tries again at once instead of at the end of
   * its pause, and this resolves once every one has ended (settled, or given up), those begun
   * meanwhile included. The caller bounds the wait; what outlasts it is named by `unsettled()`.
   */
  async finishSettling(): Promise<void> {
    await this.background.finish()
  }

  /** The ids of the requests whose create is still being settled in the background (their callers were answered "accepted"). */
  unsettled(): string[] {
    return this.background.ids('create')
  }

  /** The ids of the requests whose entry's write failed and whose withdrawal is still going (their callers were answered "retry"). */
  unwithdrawn(): string[] {
    return this.background.ids('withdrawal')
  }

  /** An unknown create is settled once Cassandra answers again: read back, and created if it is not there (the runner has answered that it is). */
  private async keepSettling(request: DeletionRequest, leaseUntil: Date): Promise<void> {
    const until = Date.now() + CREATE_SETTLED_WITHIN_MS
    while (Date.now() < until) {
      await this.background.pause()
      try {
        const settled = await this.settleCreate(request)
        if (settled === 'unknown') continue
        // Known absent: create it now. Taken by another id, or arrived meanwhile: nothing of ours to settle.
        if (settled === 'absent') await this.insert(request, leaseUntil)
        return
      } catch {
        // Still unreachable: next round.
      }
    }
  }

  async get(id: string): Promise<DeletionRequest | undefined> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.get, [id], IDEMPOTENT))).first()
    return row ? this.requestFromRow(row) : undefined
  }

  /**
   * A request's receipt as stored, unparsed (undefined: no such request; null: none), for
   * `npm run audit:verify -- --receipt`: a receipt changed on the row into text that is not JSON is
   * still held against the audit trail, where get() reads the request without it.
   */
  async receiptText(id: string): Promise<string | null | undefined> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.receipt, [id], IDEMPOTENT))).first()
    return row ? ((row.get('receipt') as string | null) ?? null) : undefined
  }

  async findByUser(userId: string, limit: number): Promise<DeletionRequest[]> {
    const rows = (await runCassandra(this.client, (client) => client.execute(this.cql.byUser, [userId], IDEMPOTENT))).rows
    return rows
      .map(this.requestFromRow)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, limit)
  }

  async acquireLease(id: string, now: Date, until: Date): Promise<boolean> {
    // Applies over a closed request's epoch too, overwriting what says it is closed (isClosed). Safe:
    // whoever takes a finished request read isClosed before its take (resume, cancel) or goes by
    // isListed (supersede: nothing unlists before the end's record), and gives the epoch back as it
    // leaves (giveBack, closeFinished) unless it found the record owed; a reader meanwhile fails its
    // own take, or leaves its entry listed (a create of the taken id) for the sweeper, which finds the
    // request closed again. A taker that dies holding it leaves a lease run out, as a run that dies
    // between unlist and give-back does: the record reads owed, is not stored again while the request
    // is unlisted, and is (same requestId and event) only if the id is listed again meanwhile.
    const result = await runCassandra(this.client, (client) => client.execute(this.cql.lease, [until, id, now], { prepare: true }))
    return result.wasApplied()
  }

  async releaseLease(id: string, heldUntil?: Date): Promise<void> {
    // Refused only when someone else holds it now: theirs is not ours to give up.
    await this.writeUnderLease(this.cql.release, [NO_LEASE, id], heldUntil)
  }

  async recordSteps(id: string, outcomes: Partial<Record<StepName, StepOutcome>>, state: RequestState, leaseUntil: Date, heldUntil?: Date): Promise<void> {
    if (!(await this.writeUnderLease(this.cql.steps, [encodeSteps(outcomes), state, leaseUntil, new Date(), id], heldUntil))) throw new LeaseLostError(id)
  }

  async renewLease(id: string, leaseUntil: Date, heldUntil: Date): Promise<void> {
    if (!(await this.writeUnderLease(this.cql.renew, [leaseUntil, id], heldUntil))) throw new LeaseLostError(id)
  }

  async confirmLease(id: string, heldUntil: Date): Promise<void> {
    const result = await runCassandra(this.client, (client) => client.execute(this.cql.confirm, [heldUntil, id, heldUntil], { prepare: true }))
    if (!result.wasApplied()) throw new LeaseLostError(id)
  }

  async finish(
    id: string,
    state: RequestState,
    fields: { receipt?: DeletionReceipt; reason?: string; dueAt?: Date | null; steps?: Partial<Record<StepName, StepOutcome>> },
    heldUntil?: Date,
  ): Promise<void> {
    const now = new Date()
    // A partial request's lease is released so a retry or the sweeper can take it up at once; a
    // finished one's is kept by its run until it is audited and unlisted (see the port).
    const lease = isFinished(state) && heldUntil ? heldUntil : NO_LEASE
    const row = [encodeSteps(fields.steps ?? {}), state, fields.reason ?? null, fields.receipt ? JSON.stringify(fields.receipt) : null, lease, now, id]
    // A scheduled (or partial) one's due time goes with the write that gives the lease back, never after it: sent
    // after, it could land once a cancel had taken the lease and listed the request due at once, and
    // push that back to eraseAt, or to a retry delay (see the port). Null: due at once.
    const dueAt = fields.dueAt !== undefined ? [{ query: this.cql.due, params: [fields.dueAt, id] }] : []
    if (!(await this.writeUnderLease(this.cql.finish, row, heldUntil, dueAt))) throw new LeaseLostError(id)
  }

  async updatePlan(id: string, plan: PlanName, state: RequestState, heldUntil?: Date): Promise<void> {
    if (!(await this.writeUnderLease(this.cql.plan, [plan, state, new Date(), id], heldUntil))) throw new LeaseLostError(id)
  }

  /**
   * A run's write to its request row, fenced by the lease it holds (see the port's recordSteps);
   * false when the lease was lost. The write carries its timestamp, taken at the moment the lease
   * is checked (see WriteStamps): while the lease holds, every write of a later taker wins over it,
   * however late this one lands. Past the lease, the write is made only if the lease is still the
   * one held (a lightweight transaction, paid only by a run that stalled past its lease).
   *
   * `alongside`: writes to other tables that must land with it or not at all (the open entry's due
   * time), sent with it as one logged batch at the same timestamp: applied whole once Cassandra has
   * taken it, even when its answer is lost, and losing to a later taker's writes as it does. Past
   * the lease they are left out: a compare-and-set cannot take another table's row along.
   */
  private async writeUnderLease(query: string, params: unknown[], heldUntil: Date | undefined, alongside: readonly { query: string; params: unknown[] }[] = []): Promise<boolean> {
    if (!heldUntil) {
      await writeTogether(this.client, [{ query, params }, ...alongside], { logged: true })
      return true
    }
    const stamp = this.stamps.next()
    if (stampedWithin(stamp, heldUntil)) {
      await writeTogether(this.client, [{ query, params }, ...alongside], { logged: true, timestamp: stamp })
      return true
    }
    const result = await runCassandra(this.client, (client) => client.execute(`${query} IF leaseuntil = ?`, [...params, heldUntil], { prepare: true }))
    return result.wasApplied()
  }

  async reopen({ id, userId, createdAt, cancelledBy }: Pick<DeletionRequest, 'id' | 'userId' | 'createdAt' | 'cancelledBy'>, state: RequestState, heldUntil?: Date): Promise<void> {
    // Without a caller, whose cancel it was stays as recorded (unset, not null).
    if (!(await this.writeUnderLease(this.cql.reopen, [state, new Date(), cancelledBy ?? types.unset, id], heldUntil))) throw new LeaseLostError(id)
    // Due at once, even if it was waiting for a grace period to end.
    await this.relist({ id, userId, createdAt })
  }

  async nameCanceller(id: string, cancelledBy: string, heldUntil?: Date): Promise<void> {
    if (!(await this.writeUnderLease(this.cql.canceller, [cancelledBy, id], heldUntil))) throw new LeaseLostError(id)
  }

  async relist({ id, userId, createdAt }: Pick<DeletionRequest, 'id' | 'userId' | 'createdAt'>, dueAt?: Date, heldUntil?: Date): Promise<void> {
    // A due time put back under the run's lease: whatever a later taker of the request writes (a
    // cancel's "due at once", an unlist) wins. Past the lease the entry stays due, and the sweeper
    // looks at it again.
    await this.writeEntryWithin(
      [
        { query: this.cql.list, params: [id, userId, createdAt] },
        { query: this.cql.due, params: [dueAt ?? null, id] },
      ],
      heldUntil,
    )
  }

  /**
   * A write to a request's open entry (relist, unlist). Without a lease, each statement plainly, in
   * order. Under the run's lease, stamped within it (see WriteStamps), so a later taker's writes to
   * the entry win however late this lands; one statement alone, several as one unlogged batch.
   * Past the lease nothing is written: the entry stays as it is, for its taker or the sweeper.
   */
  private async writeEntryWithin(writes: readonly { query: string; params: unknown[] }[], heldUntil: Date | undefined): Promise<void> {
    if (!heldUntil) {
      for (const { query, params } of writes) await runCassandra(this.client, (client) => client.execute(query, params, IDEMPOTENT))
      return
    }
    const stamp = this.stamps.next()
    if (stampedWithin(stamp, heldUntil)) await writeTogether(this.client, writes, { timestamp: stamp })
  }

  /** The sweeper's work list, read round from where the last call stopped (OpenListRing). */
  async listOpen(limit: number, dueBy: Date = new Date()): Promise<OpenEntry[]> {
    return this.openList.list(limit, dueBy)
  }

  startRound(): void {
    this.openList.startRound()
  }

  roundEnded(): boolean {
    return this.openList.roundEnded()
  }

  async openEntry(id: string): Promise<OpenEntry | undefined> {
    const row = (await runCassandra(this.client, (client) => client.execute(this.cql.entry, [id], IDEMPOTENT))).first()
    return row ? openEntryOf(id, row) : undefined
  }

  async unlist(id: string, heldUntil?: Date): Promise<void> {
    // Under the run's lease as relist is: a later taker's listing (a cancel reopening the request)
    // wins. Past the lease the request stays listed, for its taker or the sweeper.
    await this.writeEntryWithin([{ query: this.cql.close, params: [id] }], heldUntil)
  }

  /** The relay's confirmation that the event reached the topic. */
  async markEventPublished(id: string, at: Date): Promise<void> {
    await runCassandra(this.client, (client) => client.execute(this.cql.eventPublished, [at, id], IDEMPOTENT))
  }
}
