import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errors as cassandraErrors } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { WORLD_NOW, deletionWorld } from '../support/fakes/deletion-world.js'
import type { SeedUser } from '../support/fakes/in-memory-user-store.js'
import { ApiConsumerVerifier } from '../../src/auth/api-consumer-verifier.js'
import { ConfigError } from '../../src/config/load-config.js'
import { LONGEST_OWED_RETRY_MS } from '../../src/config/longest-owed-retry.js'
import type { DeletionRequest } from '../../src/deletion/deletion-request.js'
import { RESUME_EXIT, type ResumeConnection, deletionResumeCommand } from '../../scripts/lib/deletion-resume-command.js'
import type { BacklogReport } from '../../src/events/kafka-relay.js'
import { DependencyUnavailableError } from '../../src/deletion/errors.js'
import { resumeDeletionReport, resumeFromEntry, resumeOpenDeletions } from '../../src/deletion/run-deletion.js'
import { CREATE_SETTLED_WITHIN_MS } from '../../src/deletion/ports.js'
import { cancelDeletion } from '../../src/deletion/cancel-deletion.js'
import { deleteAccount } from '../../src/deletion/delete-account.js'

// `npm run deletion:resume`'s command over the deletion fakes: the sweeper's real passes
// (resumeOpenDeletions) and the in-memory store's round of the open list. On the real Cassandra,
// in its own process: test/integration/deletion-resume.test.ts.

const EARLIER = '2024-05-20T10:00:00.000Z'
/** The sweeper's pass in the service (resumeOpenDeletions' default). */
const SERVICE_LIMIT = 200
const EMAIL_OF = (n: number) => `learner.${n}@example.org`

/** User n, locked by a runner that died right after (its request's lock step recorded): a profile with an email still to erase. */
const lockedUser = (n: number): SeedUser => ({ id: userId(n), organisationIds: ['org-1'], lookups: 1, status: 2, isDeleted: true, profile: { firstname: `Learner ${n}`, email: EMAIL_OF(n) } })
const userId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
/** Ids sort as the fake's open list goes round (its stand-in for Cassandra's token order). */
const requestId = (n: number) => `req-${String(n).padStart(4, '0')}`

/** Request n, its runner dead after the lock: open, in progress, the rest of its steps owed. */
function crashedRequest(n: number): DeletionRequest {
  return {
    id: requestId(n),
    userId: userId(n),
    requestedBy: userId(n),
    state: 'in_progress',
    plan: 'sunbird',
    steps: { lock: { status: 'done', action: 'locked', at: EARLIER } },
    target: { rootOrgId: null, managedBy: null, organisationIds: ['org-1'] },
    createdAt: new Date(WORLD_NOW.getTime() - 60_000),
    updatedAt: new Date(WORLD_NOW.getTime() - 60_000),
  }
}

/**
 * `count` crashed requests; the first `held` of them held by a running instance (their lease still
 * good), as the service's sweeper or a caller's run holds them while this command runs.
 */
function worldWith(count: number, held = 0) {
  const numbers = Array.from({ length: count }, (_, n) => n)
  const w = deletionWorld({ seed: numbers.map(lockedUser) })
  for (const n of numbers) w.requests.seed(crashedRequest(n), n < held ? { leaseUntil: new Date(WORLD_NOW.getTime() + 30_000) } : {})
  return { w, numbers }
}

/** Nothing queued: what the relay's publication of the backlog reports on an empty outbox. */
const NO_EVENTS: BacklogReport = { published: 0, remaining: 0, heldBack: 0 }

/**
 * The command over the world's fakes, each pass the sweeper's (at most `limit` requests), the relay's
 * publication of queued events reporting `events`; what it printed and its exit code.
 */
async function run(w: ReturnType<typeof deletionWorld>, args: string[] = [], options: { limit?: number; connect?: () => ResumeConnection; schemaBehind?: boolean; events?: BacklogReport } = {}) {
  const out: string[] = []
  const err: string[] = []
  const calls = { passes: 0, published: 0, closed: false }
  const connect =
    options.connect ??
    ((): ResumeConnection => ({
      requests: w.requests,
      resumeOpen: (stopping, sweep) => {
        calls.passes++
        return resumeOpenDeletions(w.deps, options.limit ?? SERVICE_LIMIT, stopping, sweep)
      },
      resumeRequest: (id) => resumeDeletionReport(w.deps, id),
      resumeFromEntry: (id) => resumeFromEntry(w.deps, id),
      publishBacklog: async () => {
        calls.published++
        return options.events ?? NO_EVENTS
      },
      schema: { ready: async () => options.schemaBehind !== true },
      close: async () => {
        calls.closed = true
      },
    }))
  const code = await deletionResumeCommand(args, connect, { out: (text) => out.push(text), err: (text) => err.push(text) })
  return { code, out, err, calls, result: out.length === 1 ? (JSON.parse(out[0] as string) as Record<string, unknown>) : undefined }
}

const leasesTaken = (w: ReturnType<typeof deletionWorld>) => w.timeline.count('requests.acquireLease')

describe('npm run deletion:resume: the whole open list', () => {
  it('when the first 200 open requests are held by a running instance, then a run still resumes the ones after them: every one of those is completed', async () => {
    // Arrange: one sweeper pass takes 200; all of those are held elsewhere, five more are waiting behind them.
    const { w, numbers } = worldWith(SERVICE_LIMIT + 5, SERVICE_LIMIT)

    // Act
    const { code, result, calls } = await run(w)

    // Assert
    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toEqual({ resumed: 5, completed: 5, partial: 0, unlisted: 0, eventsPublished: 0, eventsRemaining: 0 })
    for (const n of numbers) expect(w.requests.peek(requestId(n))?.state, requestId(n)).toBe(n < SERVICE_LIMIT ? 'in_progress' : 'completed')
    expect(calls).toMatchObject({ passes: 2, published: 1, closed: true })
  })

  it('when a partial request waits out the retry delay of a step owed for want of Keycloak, then the round takes it up without waiting', async () => {
    const w = deletionWorld({ seed: [{ id: userId(0), organisationIds: ['org-1'], lookups: 1 }] })
    w.deps.owedRetry = { waitMs: () => 300_000 }
    w.identity.goDown()
    await deleteAccount(w.deps, { requestId: requestId(0), userId: userId(0), caller: { consumer: 'portal', userId: userId(0), roles: [] } })
    w.identity.comeBack()
    // The service's sweeper leaves it for five minutes.
    expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })

    const { code, result } = await run(w)

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.requests.peek(requestId(0))?.state).toBe('completed')
  })

  it('when the service waits longer before retrying an owed request than the command’s own configuration says (or the command says no wait), then the round still takes it up without waiting', async () => {
    // The service, configured with the longest delay allowed, leaves the request for an hour.
    const w = deletionWorld({ seed: [{ id: userId(0), organisationIds: ['org-1'], lookups: 1 }] })
    w.deps.owedRetry = { waitMs: () => 3_600_000 }
    w.identity.goDown()
    await deleteAccount(w.deps, { requestId: requestId(0), userId: userId(0), caller: { consumer: 'portal', userId: userId(0), roles: [] } })
    w.identity.comeBack()

    // The command runs with DELETION_OWED_RETRY_MAX_MS 0 (or a minute: the same).
    for (const owedRetry of [undefined, { waitMs: () => 60_000 }]) {
      w.deps.owedRetry = owedRetry
      expect(await resumeOpenDeletions(w.deps)).toMatchObject({ resumed: 0 })
    }
    const { code, result } = await run(w)

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toMatchObject({ resumed: 1, completed: 1 })
    expect(w.requests.peek(requestId(0))?.state).toBe('completed')
  })

  it('when a grace period ends within the longest retry delay, then the round lists it but does not erase it early: it stays scheduled, due at its erasure time', async () => {
    const w = deletionWorld({ seed: [{ id: userId(0), organisationIds: ['org-1'], lookups: 1 }] })
    await deleteAccount(w.deps, { requestId: requestId(0), userId: userId(0), caller: { consumer: 'portal', userId: userId(0), roles: [] }, gracePeriodDays: 2 })
    const eraseAt = w.requests.peek(requestId(0))?.schedule?.eraseAt as Date
    expect(eraseAt.getTime() - WORLD_NOW.getTime()).toBeLessThan(LONGEST_OWED_RETRY_MS)

    const { code } = await run(w)

    expect(code).toBe(RESUME_EXIT.ok)
    expect(w.requests.peek(requestId(0))).toMatchObject({ state: 'scheduled', plan: 'soft' })
    expect((await w.requests.listOpen(100, eraseAt)).map((entry) => entry.dueAt)).toEqual([eraseAt])
  })

  it('when run again while the same requests are still held, then it reaches the others again rather than the same first 200', async () => {
    const { w } = worldWith(SERVICE_LIMIT + 3, SERVICE_LIMIT)
    await run(w)
    w.requests.seed({ ...crashedRequest(SERVICE_LIMIT + 3), id: requestId(SERVICE_LIMIT + 3) })
    w.users.add(lockedUser(SERVICE_LIMIT + 3))

    const { code, result } = await run(w)

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toMatchObject({ resumed: 1, completed: 1 })
  })

  it('when Keycloak is down and every request stays partial, then each open request is resumed exactly once in the run, over as many passes as it takes', async () => {
    const { w, numbers } = worldWith(8)
    w.identity.goDown()

    const { code, result, calls } = await run(w, [], { limit: 3 })

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toEqual({ resumed: 8, completed: 0, partial: 8, unlisted: 0, eventsPublished: 0, eventsRemaining: 0 })
    expect(leasesTaken(w)).toBe(8)
    // 3 + 3 + 2: the third pass reached the end of the list.
    expect(calls.passes).toBe(3)
    for (const n of numbers) expect(w.requests.peek(requestId(n))?.state).toBe('partial')
  })

  it('when the open list fills the last pass exactly, then one more pass finds the end, and nothing is resumed twice', async () => {
    const { w } = worldWith(6)

    const { result, calls } = await run(w, [], { limit: 3 })

    expect(result).toMatchObject({ resumed: 6, completed: 6 })
    expect(leasesTaken(w)).toBe(6)
    expect(calls.passes).toBe(3)
  })

  it('when nothing is open, then one pass, all zero, exit 0', async () => {
    const { w } = worldWith(0)

    const { code, result, calls } = await run(w)

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toEqual({ resumed: 0, completed: 0, partial: 0, unlisted: 0, eventsPublished: 0, eventsRemaining: 0 })
    expect(calls.passes).toBe(1)
  })

  it('when the users have names and emails, then nothing the command prints holds one: counts only', async () => {
    const { w, numbers } = worldWith(5)

    const { out, err } = await run(w, [], { limit: 2 })

    const printed = [...out, ...err].join('\n')
    for (const n of numbers) {
      expect(printed).not.toContain(EMAIL_OF(n))
      expect(printed).not.toContain(`Learner ${n}`)
      expect(printed).not.toContain(userId(n))
    }
  })

  it('when Cassandra goes away in the middle of the round, then one line says so with what was done before, no stack trace, exit 2, and the stores are let go', async () => {
    const { w } = worldWith(7)
    let passes = 0
    let closed = false
    const connect = (): ResumeConnection => ({
      requests: w.requests,
      resumeOpen: () => {
        passes++
        if (passes === 2) w.requests.failNext('listOpen', new DependencyUnavailableError('cassandra', { cause: new cassandraErrors.NoHostAvailableError({}, `All host(s) tried (${EMAIL_OF(1)})`) }))
        return resumeOpenDeletions(w.deps, 3)
      },
      resumeRequest: (id) => resumeDeletionReport(w.deps, id),
      resumeFromEntry: (id) => resumeFromEntry(w.deps, id),
      publishBacklog: async () => NO_EVENTS,
      schema: { ready: async () => true },
      close: async () => {
        closed = true
      },
    })

    const { code, out, err } = await run(w, [], { connect })

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(out).toEqual([])
    expect(err).toEqual([
      'deletion:resume: could not resume the open deletion requests: cassandra unreachable (no host answered) (before it stopped: {"resumed":3,"completed":3,"partial":0,"unlisted":0})',
    ])
    expect(closed).toBe(true)
  })
})

describe('npm run deletion:resume -- <requestId>', () => {
  it('when the id names an open request, then that request alone is resumed and completed, exit 0', async () => {
    const { w } = worldWith(3)

    const { code, result, calls } = await run(w, [requestId(1)])

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toEqual({ requestId: requestId(1), state: 'completed', resumed: true, eventsPublished: 0, eventsRemaining: 0 })
    expect(w.requests.peek(requestId(0))?.state).toBe('in_progress')
    expect(w.requests.peek(requestId(1))?.state).toBe('completed')
    expect(w.requests.peek(requestId(2))?.state).toBe('in_progress')
    expect(calls).toMatchObject({ passes: 0, published: 1, closed: true })
  })

  it('when the request is held by a running instance, then it is left to it: resumed false, its state, a line saying why, exit 1', async () => {
    const { w } = worldWith(1, 1)

    const { code, result, err } = await run(w, [requestId(0)])

    expect(code).toBe(RESUME_EXIT.stillOpen)
    expect(result).toEqual({ requestId: requestId(0), state: 'in_progress', resumed: false, eventsPublished: 0, eventsRemaining: 0 })
    expect(err).toEqual([`deletion:resume: deletion request ${requestId(0)} is still open: another runner holds it (its lease has not run out): run this again after DELETION_LEASE_MS`])
  })

  it('when Keycloak is still down, then the request stays partial: exit 1 and a line saying a step is owed', async () => {
    const { w } = worldWith(1)
    w.identity.goDown()

    const { code, result, err } = await run(w, [requestId(0)])

    expect(code).toBe(RESUME_EXIT.stillOpen)
    expect(result).toMatchObject({ state: 'partial', resumed: true })
    expect(err[0]).toMatch(/is still open: a step is still owed/)
  })

  it('when the request is already closed (completed, audited, unlisted), then it is said so and left as it is: no second deletion.completed, exit 0', async () => {
    const { w } = worldWith(1)
    await run(w, [requestId(0)])
    w.timeline.clear()

    const { code, result, err } = await run(w, [requestId(0)])

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toEqual({ requestId: requestId(0), state: 'completed', resumed: false, closed: true, eventsPublished: 0, eventsRemaining: 0 })
    expect(err).toEqual([`deletion:resume: deletion request ${requestId(0)} is already closed (completed, its end audited): nothing to resume`])
    expect(w.audit.eventsOf(requestId(0))).toEqual(['deletion.completed'])
    expect(w.timeline.writes()).toEqual([])
  })

  it('when a closed request’s cancel stopped after taking the hold and before reopening it, then resuming it by id finishes the cancel, exit 0', async () => {
    const user = userId(0)
    const w = deletionWorld({ seed: [{ id: user, rootOrgId: 'org-1', organisationIds: ['org-1'] }] })
    const caller = { consumer: 'portal', userId: user, roles: [] }
    await deleteAccount(w.deps, { requestId: requestId(0), userId: user, caller, mode: 'soft' })
    w.requests.failNext('reopen', new DependencyUnavailableError('cassandra'))
    await cancelDeletion(w.deps, { userId: user, caller }).catch(() => undefined)
    expect(w.states.peek(user)).toMatchObject({ mode: 'restoring' })

    const { code, result } = await run(w, [requestId(0)])

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toEqual({ requestId: requestId(0), state: 'cancelled', resumed: true, eventsPublished: 0, eventsRemaining: 0 })
    expect(w.states.peek(user)).toBeUndefined()
  })

  it('when the id names no request, then exit 2 with one line that does not repeat what was given (it may be an email pasted by mistake)', async () => {
    const { w } = worldWith(1)

    const { code, out, err, calls } = await run(w, [EMAIL_OF(0)])

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(out).toEqual([])
    expect(err).toEqual(['deletion:resume: no deletion request has that id'])
    expect(calls.closed).toBe(true)
    expect(w.requests.peek(requestId(0))?.state).toBe('in_progress')
  })
})

describe('npm run deletion:resume -- <requestId> of a request whose create never applied (only its open entry)', () => {
  /** Request n's open entry alone, written `ageMs` before now; `kept`: whether it kept the request (else a fenced create's). */
  function entryOnly(n: number, ageMs: number, kept = true) {
    const w = deletionWorld({ seed: [{ id: userId(n), organisationIds: ['org-1'], profile: { firstname: `Learner ${n}`, email: EMAIL_OF(n) } }] })
    const createdAt = new Date(WORLD_NOW.getTime() - ageMs)
    const request: DeletionRequest = { ...crashedRequest(n), state: 'accepted', steps: {}, createdAt, updatedAt: createdAt }
    w.requests.listWithoutRequest({ id: request.id, userId: request.userId, createdAt }, kept ? request : undefined)
    return w
  }

  it('when the entry is old enough that no create can still be settling, then the request is created from it and carried out at once: exit 0, accepted and completed audited', async () => {
    const w = entryOnly(0, 2 * CREATE_SETTLED_WITHIN_MS)

    const { code, result, err } = await run(w, [requestId(0)])

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toEqual({ requestId: requestId(0), state: 'completed', resumed: true, createdFromEntry: true, eventsPublished: 0, eventsRemaining: 0 })
    expect(err).toEqual([])
    expect(w.audit.eventsOf(requestId(0))).toEqual(['deletion.accepted', 'deletion.completed'])
    expect(w.users.snapshot(userId(0))).toMatchObject({ status: 2, isDeleted: true })
  })

  it('when the entry is younger (its create may still be settling), then nothing is created: exit 1, and a line saying from when it can be', async () => {
    const w = entryOnly(0, 2 * CREATE_SETTLED_WITHIN_MS - 60_000)

    const { code, result, err } = await run(w, [requestId(0)])

    expect(code).toBe(RESUME_EXIT.stillOpen)
    expect(result).toEqual({ requestId: requestId(0), resumed: false, created: false, eventsPublished: 0, eventsRemaining: 0 })
    expect(err).toEqual([
      `deletion:resume: deletion request ${requestId(0)} is not created yet: its create may still be settling; from ${new Date(WORLD_NOW.getTime() + 60_000).toISOString()} the sweeper (or this command run again) creates it from its open entry, or drops the entry if it kept nothing`,
    ])
    expect(w.requests.peek(requestId(0))).toBeUndefined()
    expect(await w.requests.isListed(requestId(0))).toBe(true)
  })

  it('when the entry kept nothing to create the request from, then it is taken off the open list as the sweeper would: exit 2, a line saying so, no personal data', async () => {
    const w = entryOnly(0, 2 * CREATE_SETTLED_WITHIN_MS, false)

    const { code, out, err } = await run(w, [requestId(0)])

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(out).toEqual([])
    expect(err).toEqual([
      `deletion:resume: deletion request ${requestId(0)} was never created, and its open entry kept nothing to create it from: it was taken off the open list (see "deletion request never created" in docs/operating.md)`,
    ])
    expect(await w.requests.isListed(requestId(0))).toBe(false)
    expect(w.requests.peek(requestId(0))).toBeUndefined()
  })
})

describe('npm run deletion:resume: a keyspace behind this build', () => {
  it.each([[[]], [['req-0000']]])('when the keyspace lacks a migration (arguments %j), then nothing is resumed: exit 2 and a line saying to run db:migrate', async (args) => {
    const { w } = worldWith(1)

    const { code, out, err, calls } = await run(w, args, { schemaBehind: true })

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(out).toEqual([])
    expect(err).toEqual(['deletion:resume: the keyspace lacks a migration this build needs: run npm run db:migrate first'])
    expect(calls).toMatchObject({ passes: 0, closed: true })
    expect(w.requests.peek(requestId(0))?.state).toBe('in_progress')
  })
})

describe('npm run deletion:resume: arguments and start-up', () => {
  it.each([[['--help']], [['-h']], [['req-1', '--help']]])('when the arguments are %j, then the usage is printed on stdout, exit 0, and nothing is connected to', async (args) => {
    const out: string[] = []
    const err: string[] = []
    let connected = false

    const code = await deletionResumeCommand(
      args,
      () => {
        connected = true
        throw new Error('not expected')
      },
      { out: (text) => out.push(text), err: (text) => err.push(text) },
    )

    expect({ code, out, err, connected }).toEqual({ code: RESUME_EXIT.ok, out: ['usage: npm run deletion:resume [-- <requestId>]'], err: [], connected: false })
  })

  it('when -h comes after a second --, then it is the request id, not a request for the usage', async () => {
    const { code, err } = await run(deletionWorld(), ['--', '-h'])

    expect(code).not.toBe(RESUME_EXIT.ok)
    expect(err.join('\n')).not.toContain('usage:')
  })

  it.each([[['req-1', 'req-2']], [['--all']], [['']]])('when the arguments are %j, then exit 2 with the usage, and nothing is connected to', async (args) => {
    let connected = false

    const { code, err } = await run(deletionWorld(), args, {
      connect: () => {
        connected = true
        throw new Error('not expected')
      },
    })

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(err.join('\n')).toContain('usage: npm run deletion:resume [-- <requestId>]')
    expect(connected).toBe(false)
  })

  it.each([
    [['req-1', 'req-2'], 'at most one request id'],
    [[' '], 'the request id is empty'],
  ])('when the arguments are %j, then the line says why: %s', async (args, why) => {
    const { err } = await run(deletionWorld(), args, {
      connect: () => {
        throw new Error('not expected')
      },
    })

    expect(err[0]).toBe(`deletion:resume: ${why}\nusage: npm run deletion:resume [-- <requestId>]`)
  })

  it.each([
    [['--anything'], "deletion:resume: unknown option '--anything': deletion:resume takes no flags, only a request id"],
    [[`--${EMAIL_OF(1)}`], 'deletion:resume: unknown option (not shown): deletion:resume takes no flags, only a request id'],
    [['req-1', `--token=${EMAIL_OF(1)}`], "deletion:resume: unknown option '--token': deletion:resume takes no flags"],
  ])('when the arguments are %j, then exit 2 and one reason that repeats no value and names a flag-shaped typo once, with the usage', async (args, said) => {
    const { code, err } = await run(deletionWorld(), args, {
      connect: () => {
        throw new Error('not expected')
      },
    })

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(err).toHaveLength(1)
    const [reason, usage] = (err[0] ?? '').split('\n')
    expect(reason?.startsWith(said)).toBe(true)
    expect(usage).toBe('usage: npm run deletion:resume [-- <requestId>]')
    expect(err[0]).not.toContain(EMAIL_OF(1))
    expect((err[0] ?? '').split('--anything').length - 1).toBeLessThanOrEqual(1)
  })

  it('when the API consumers file is missing, then one line naming API_BEARER_CONSUMERS_FILE and the path, not "unexpected Error", exit 2', async () => {
    const missing = join(tmpdir(), `no-such-dir-${process.pid}`, 'api-consumers.json')

    const { code, err } = await run(deletionWorld(), [], {
      connect: () => {
        ApiConsumerVerifier.fromFile(missing)
        throw new Error('not expected: the file is missing')
      },
    })

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(err).toEqual([`deletion:resume: could not start: invalid configuration: API_BEARER_CONSUMERS_FILE: ${missing} does not exist`])
  })

  it('when the configuration is refused, then one line naming the setting, exit 2', async () => {
    const { code, err } = await run(deletionWorld(), [], {
      connect: () => {
        throw new ConfigError('invalid configuration:\n  /deletion/leaseMs must be >= 1000')
      },
    })

    expect(code).toBe(RESUME_EXIT.couldNotResume)
    expect(err).toEqual(['deletion:resume: could not start: invalid configuration: /deletion/leaseMs must be >= 1000'])
  })
})

describe('npm run deletion:resume: the queued delete-user events', () => {
  it('when Kafka refuses the events left, then the line says how many were published and how many are left, a line says why, and exit 3', async () => {
    const { w } = worldWith(2)

    const { code, result, err } = await run(w, [], { events: { published: 40, remaining: 7, heldBack: 0, stoppedBy: 'kafka' } })

    expect(code).toBe(RESUME_EXIT.eventsLeft)
    expect(result).toEqual({ resumed: 2, completed: 2, partial: 0, unlisted: 0, eventsPublished: 40, eventsRemaining: 7 })
    expect(err).toEqual([
      'deletion:resume: delete-user events left unpublished: Kafka refused them (unreachable, or their partition failing; see "Kafka down" in docs/operating.md); the service\'s relay publishes them once Kafka takes them, or run this again',
    ])
  })

  it('when events are left held back as too large for the topic, then a line counts them, and exit 3', async () => {
    const { w } = worldWith(0)

    const { code, result, err } = await run(w, [], { events: { published: 3, remaining: 1, heldBack: 1 } })

    expect(code).toBe(RESUME_EXIT.eventsLeft)
    expect(result).toMatchObject({ eventsPublished: 3, eventsRemaining: 1 })
    expect(err).toEqual(['deletion:resume: 1 delete-user event(s) larger than the topic takes left in the outbox (see "an event too large for the topic" in docs/operating.md)'])
  })

  it('when Cassandra did not record the publication of the events left, then a line says so, and exit 3', async () => {
    const { w } = worldWith(0)

    const { code, err } = await run(w, [], { events: { published: 0, remaining: 2, heldBack: 0, stoppedBy: 'cassandra' } })

    expect(code).toBe(RESUME_EXIT.eventsLeft)
    expect(err[0]).toMatch(/Cassandra did not record it/)
  })

  it('when events are still listed but nothing refused them (appended meanwhile, or listed before their entry), then they are counted and the exit is 0', async () => {
    const { w } = worldWith(0)

    const { code, result, err } = await run(w, [], { events: { published: 5, remaining: 2, heldBack: 0 } })

    expect(code).toBe(RESUME_EXIT.ok)
    expect(result).toMatchObject({ eventsPublished: 5, eventsRemaining: 2 })
    expect(err).toEqual([])
  })

  it('when one request is resumed to completion while Kafka refuses the events, then exit 3; while it stays open, exit 1 all the same', async () => {
    const refused: BacklogReport = { published: 0, remaining: 1, heldBack: 0, stoppedBy: 'kafka' }
    const { w } = worldWith(1)

    const completed = await run(w, [requestId(0)], { events: refused })
    expect(completed.code).toBe(RESUME_EXIT.eventsLeft)
    expect(completed.result).toEqual({ requestId: requestId(0), state: 'completed', resumed: true, eventsPublished: 0, eventsRemaining: 1 })

    const held = worldWith(1, 1).w
    expect((await run(held, [requestId(0)], { events: refused })).code).toBe(RESUME_EXIT.stillOpen)
  })
})
