import { parseArgs } from 'node:util'
import { whyNotVerified } from '../../src/verification/deletion-verify-command.js'
import { whyArgumentsRefused } from './refused-arguments.js'
import { asksForHelp } from '../../src/shared/asks-for-help.js'
import { isFinished, type RequestState } from '../../src/deletion/deletion-request.js'
import type { DeletionRequestStore } from '../../src/deletion/ports.js'
import type { BacklogReport } from '../../src/events/kafka-relay.js'
import type { NeverCreated, SweepReport } from '../../src/deletion/run-deletion.js'
import type { SchemaGate } from '../../src/schema-gate.js'
import { withinMs } from '../../src/shared/within-ms.js'
import { LONGEST_OWED_RETRY_MS } from '../../src/config/longest-owed-retry.js'

/**
 * deletion:resume's exit codes. 0: the whole open list was gone round once (every request due was
 * resumed, unless another runner held it), or the one request asked for is finished (completed,
 * failed, cancelled), closed already included; 1: the one request asked for is still open (partial while a dependency is
 * owed, its erasure not due yet, another runner holds it, or not created yet from its open entry: run it
 * again later); 2: nothing could be said (a bad argument, the configuration refused, no such request,
 * the keyspace behind this build's schema, Cassandra unreachable); 3: what 0 says, but delete-user
 * events are left in the outbox because Kafka refused them (unreachable, their partition failing,
 * too large for the topic) or Cassandra did not record their publication.
 */
export const RESUME_EXIT = { ok: 0, stillOpen: 1, couldNotResume: 2, eventsLeft: 3 } as const

export const RESUME_USAGE = 'usage: npm run deletion:resume [-- <requestId>]'

/** It takes no flag: an id that starts with - is a positional after a second --. */
const RESUME_HINTS = {
  positional: 'at most one request id',
  flags: 'deletion:resume takes no flags, only a request id (one that starts with - goes after a second --: npm run deletion:resume -- -- -abc)',
}

/** Where the command writes: the result (one JSON line) to `out`, anything else to `err`. */
export interface ResumeOutput {
  out(text: string): void
  err(text: string): void
}

/** The service's sweeper and its store of requests, and how to let go of them. */
export interface ResumeConnection {
  /** The same store the sweeper passes list from: its round of the open list, and one request read back. */
  requests: Pick<DeletionRequestStore, 'startRound' | 'roundEnded' | 'get'>
  /** One sweeper pass (resumeOpenDeletions over `requests`); `owedWaitsWithinMs`: owed requests still waiting out a retry delay up to that long too. */
  resumeOpen(stopping?: AbortSignal, options?: { owedWaitsWithinMs?: number }): Promise<SweepReport>
  /**
   * resumeDeletionReport of one request: the state reached, or undefined when another runner holds
   * it or its erasure is not due; `closed` when it was closed already and left as it was.
   */
  resumeRequest(requestId: string): Promise<{ state: RequestState | undefined; closed: boolean }>
  /**
   * resumeFromEntry of an id with no request: created from its open entry and resumed, as the
   * sweeper does once the entry is old enough; undefined when the id has no entry either.
   */
  resumeFromEntry(requestId: string): Promise<NeverCreated | undefined>
  /** Relay passes until one publishes nothing: queued delete-user events to Kafka, and what is left. */
  publishBacklog(): Promise<BacklogReport>
  /** Whether the keyspace has this build's schema: nothing is resumed before it has. */
  schema: Pick<SchemaGate, 'ready'>
  close(): Promise<void>
}

/** How long letting go of the stores may take before the command ends anyway (a client stuck reconnecting). */
const CLOSE_WITHIN_MS = 5000

const zero = (): SweepReport => ({ resumed: 0, completed: 0, partial: 0, unlisted: 0 })

const add = (total: SweepReport, pass: SweepReport): SweepReport => ({
  resumed: total.resumed + pass.resumed,
  completed: total.completed + pass.completed,
  partial: total.partial + pass.partial,
  unlisted: total.unlisted + pass.unlisted,
})

/**
 * Sweeper passes from the start of the open list until they have gone round it once. One pass looks
 * at no more than its limit of requests (200), those held by a running instance and those still
 * partial included, so a single pass of a fresh process would meet the same first ones every time
 * and never reach the rest. Each pass goes on from where the last stopped, and the round ends at the
 * list's end, so no request is resumed twice in one run. `done.report` holds what the passes so far
 * did, for a caller whose run stops half-way (Cassandra gone).
 */
export async function resumeEveryOpenRequest(connection: Pick<ResumeConnection, 'requests' | 'resumeOpen'>, done: { report: SweepReport } = { report: zero() }): Promise<SweepReport> {
  connection.requests.startRound()
  do {
    // The operator asks now: an owed request is tried without waiting out its retry delay, however
    // long the running service's configuration makes it (not only as long as this command's says).
    done.report = add(done.report, await connection.resumeOpen(undefined, { owedWaitsWithinMs: LONGEST_OWED_RETRY_MS }))
  } while (!connection.requests.roundEnded())
  return done.report
}

/** Why a request resumed by hand is still open, for the operator (no personal data: the state only). */
function whyStillOpen(state: RequestState, resumed: boolean): string {
  if (state === 'scheduled') return 'its grace period has not ended: it is erased once eraseAt has passed'
  if (!resumed) return 'another runner holds it (its lease has not run out): run this again after DELETION_LEASE_MS'
  if (state === 'partial') return 'a step is still owed (a dependency is down): see the status route for which, and run this again once it is back'
  return `it is ${state}: run this again later`
}

/** Queued events published, and what the printed line says of them. */
interface EventsPublished {
  fields: { eventsPublished: number; eventsRemaining: number }
  /** Events are left because Kafka refused them or Cassandra did not record them: exit RESUME_EXIT.eventsLeft rather than ok. */
  refused: boolean
}

/**
 * Publishes queued events until none is left to send or Kafka refuses what is left; a line on `err`
 * says why any are left (counts only). Events listed without their entry yet, or appended meanwhile,
 * are counted as left without a line: the service's relay takes them.
 */
async function publishQueuedEvents(connection: ResumeConnection, output: ResumeOutput): Promise<EventsPublished> {
  const { published, remaining, heldBack, stoppedBy } = await connection.publishBacklog()
  const fields = { eventsPublished: published, eventsRemaining: remaining }
  if (stoppedBy === 'kafka') {
    output.err(
      `deletion:resume: delete-user events left unpublished: Kafka refused them (unreachable, or their partition failing; see "Kafka down" in docs/operating.md); the service's relay publishes them once Kafka takes them, or run this again`,
    )
  }
  if (stoppedBy === 'cassandra') {
    output.err('deletion:resume: delete-user events are on the topic but Cassandra did not record it: they stay queued, and the relay publishes them again, with the same mid, once Cassandra answers')
  }
  if (heldBack > 0) {
    output.err(`deletion:resume: ${heldBack} delete-user event(s) larger than the topic takes left in the outbox (see "an event too large for the topic" in docs/operating.md)`)
  }
  return { fields, refused: remaining > 0 && (stoppedBy !== undefined || heldBack > 0) }
}

/**
 * What a resume by hand reached, printed as one JSON line (the state read back, whether this run
 * took it up, `extra` fields, the events published), and its exit code.
 */
async function reportResumed(connection: ResumeConnection, requestId: string, reached: RequestState | undefined, output: ResumeOutput, extra: Record<string, unknown> = {}): Promise<number> {
  const state = (await connection.requests.get(requestId))?.state ?? reached
  const events = await publishQueuedEvents(connection, output)
  output.out(JSON.stringify({ requestId, state, resumed: reached !== undefined, ...extra, ...events.fields }))
  if (state !== undefined && isFinished(state)) return events.refused ? RESUME_EXIT.eventsLeft : RESUME_EXIT.ok
  if (state !== undefined) output.err(`deletion:resume: deletion request ${requestId} is still open: ${whyStillOpen(state, reached !== undefined)}`)
  return RESUME_EXIT.stillOpen
}

/**
 * An id with no request: one whose create never applied is created from its open entry (what the
 * sweeper would do at its next pass), or the operator is told when that can happen; 'exists' when
 * the request turned up meanwhile, to be resumed as any other. An id with no entry either is not
 * repeated back.
 */
async function resumeFromEntry(connection: ResumeConnection, requestId: string, output: ResumeOutput): Promise<number | 'exists'> {
  const settled = await connection.resumeFromEntry(requestId)
  if (settled === undefined) {
    output.err('deletion:resume: no deletion request has that id')
    return RESUME_EXIT.couldNotResume
  }
  if (settled.outcome === 'not kept') {
    output.err(
      `deletion:resume: deletion request ${requestId} was never created, and its open entry kept nothing to create it from: it was taken off the open list (see "deletion request never created" in docs/operating.md)`,
    )
    return RESUME_EXIT.couldNotResume
  }
  if (settled.outcome === 'settling') {
    output.out(JSON.stringify({ requestId, resumed: false, created: false, ...(await publishQueuedEvents(connection, output)).fields }))
    output.err(
      `deletion:resume: deletion request ${requestId} is not created yet: its create may still be settling; from ${settled.createdFrom.toISOString()} the sweeper (or this command run again) creates it from its open entry, or drops the entry if it kept nothing`,
    )
    return RESUME_EXIT.stillOpen
  }
  if (settled.outcome === 'exists') return 'exists'
  return reportResumed(connection, requestId, settled.state, output, { createdFromEntry: true })
}

/**
 * `npm run deletion:resume [-- <requestId>]`. Without an id: goes round every open deletion request
 * once (resumeEveryOpenRequest), then publishes queued events until none is left to send or Kafka
 * refuses what is left (publishQueuedEvents), and prints
 * `{"resumed","completed","partial","unlisted","eventsPublished","eventsRemaining"}`. With an id:
 * resumes that request alone, publishes queued events the same way, and prints
 * `{"requestId","state","resumed","eventsPublished","eventsRemaining"}`;
 * one closed already (finished, its end audited, its lease given back) is not touched: `"closed": true`
 * is added, and a line on `err` says so.
 * Counts, ids and states only: never a user's value. Anything that stops it is one line on `err`
 * (no stack trace, and no driver's own message, which may quote what it was sent); an id that names
 * no request is not repeated back (it may be something else pasted by mistake). Answers RESUME_EXIT.
 */
export async function deletionResumeCommand(args: readonly string[], connect: () => ResumeConnection, output: ResumeOutput): Promise<number> {
  if (asksForHelp(args)) {
    output.out(RESUME_USAGE)
    return RESUME_EXIT.ok
  }
  const refused = (why: string) => {
    output.err(`deletion:resume: ${why}\n${RESUME_USAGE}`)
    return RESUME_EXIT.couldNotResume
  }
  let positionals: string[]
  try {
    positionals = parseArgs({ args: [...args], options: {}, allowPositionals: true, strict: true }).positionals
  } catch (err) {
    return refused(whyArgumentsRefused(err, RESUME_HINTS))
  }
  if (positionals.length > 1) return refused('at most one request id')
  if (positionals[0]?.trim() === '') return refused('the request id is empty')
  const requestId = positionals[0]
  let connection: ResumeConnection
  try {
    connection = connect()
  } catch (err) {
    output.err(`deletion:resume: could not start: ${whyNotVerified(err)}`)
    return RESUME_EXIT.couldNotResume
  }
  const done = { report: zero() }
  try {
    if (!(await connection.schema.ready())) {
      output.err('deletion:resume: the keyspace lacks a migration this build needs: run npm run db:migrate first')
      return RESUME_EXIT.couldNotResume
    }
    if (requestId === undefined) {
      const report = await resumeEveryOpenRequest(connection, done)
      const events = await publishQueuedEvents(connection, output)
      output.out(JSON.stringify({ ...report, ...events.fields }))
      return events.refused ? RESUME_EXIT.eventsLeft : RESUME_EXIT.ok
    }
    if (!(await connection.requests.get(requestId))) {
      const answered = await resumeFromEntry(connection, requestId, output)
      if (answered !== 'exists') return answered
    }
    const { state: reached, closed } = await connection.resumeRequest(requestId)
    if (closed) {
      const events = await publishQueuedEvents(connection, output)
      output.out(JSON.stringify({ requestId, state: reached, resumed: false, closed: true, ...events.fields }))
      output.err(`deletion:resume: deletion request ${requestId} is already closed (${reached}, its end audited): nothing to resume`)
      return events.refused ? RESUME_EXIT.eventsLeft : RESUME_EXIT.ok
    }
    return await reportResumed(connection, requestId, reached, output)
  } catch (err) {
    const sofar = requestId === undefined ? ` (before it stopped: ${JSON.stringify(done.report)})` : ''
    output.err(`deletion:resume: could not resume ${requestId === undefined ? 'the open deletion requests' : `deletion request ${requestId}`}: ${whyNotVerified(err)}${sofar}`)
    return RESUME_EXIT.couldNotResume
  } finally {
    await withinMs(CLOSE_WITHIN_MS, connection.close(), undefined)
  }
}
