import { type Client, errors, types } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../deletion/errors.js'
import { codeFor } from '../http/render-error.js'
import { recordCassandraCalls } from '../metrics/cassandra-call-recorder.js'
import { isCasOutcomeUnknown, isCassandraUnavailable, runCassandra } from './cassandra-call.js'

const { responseErrorCodes: codes } = types

/** What Cassandra answered with that code, as the driver raises it. */
const answered = (code: number) => new errors.ResponseError(code, 'Server failure during read query at consistency LOCAL_ONE (1 responses were required but only 0 replicas responded, 1 failed)')

/** A client whose every call fails with `err`, its calls recorded by outcome. */
function clientFailingWith(err: Error) {
  const outcomes: string[] = []
  const client = {} as Client
  recordCassandraCalls(client, { observeCassandraCall: (outcome) => outcomes.push(outcome) })
  return { client, outcomes, call: () => runCassandra(client, () => Promise.reject(err)) }
}

describe('isCassandraUnavailable: which of Cassandra’s answers are a dependency failing (503) and which a bug (500)', () => {
  it.each([
    ['unavailable (too few replicas alive)', codes.unavailableException],
    ['overloaded', codes.overloaded],
    ['bootstrapping', codes.isBootstrapping],
    ['read timeout', codes.readTimeout],
    ['write timeout', codes.writeTimeout],
    ['read failure (a replica failed the read: tombstone overflow, an index still building)', codes.readFailure],
    ['write failure (a replica failed the write)', codes.writeFailure],
  ])('when Cassandra answers %s, then it is unavailable', (_, code) => {
    expect(isCassandraUnavailable(answered(code))).toBe(true)
  })

  it.each([
    ['a syntax error', codes.syntaxError],
    ['an invalid query (a column or table that does not exist)', codes.invalid],
    ['unauthorized', codes.unauthorized],
    ['a configuration error', codes.configError],
    ['a server error (a bug in Cassandra)', codes.serverError],
  ])('when Cassandra answers %s, then it is not unavailable: a bug, answered 500', (_, code) => {
    expect(isCassandraUnavailable(answered(code))).toBe(false)
  })

  it.each([
    ['read failure', codes.readFailure],
    ['write failure', codes.writeFailure],
  ])('when a call meets a %s, then runCassandra fails it as Cassandra unavailable, recorded so, which every route answers SERVICE_UNAVAILABLE (503)', async (_, code) => {
    const failure = answered(code)
    const cassandra = clientFailingWith(failure)

    const err = await cassandra.call().catch((e: unknown) => e)

    expect(err).toBeInstanceOf(DependencyUnavailableError)
    expect((err as DependencyUnavailableError).dependency).toBe('cassandra')
    expect((err as DependencyUnavailableError).cause).toBe(failure)
    expect(cassandra.outcomes).toEqual(['unavailable'])
    expect(codeFor(err)).toBe('SERVICE_UNAVAILABLE')
  })

  it('when a call meets an invalid query, then runCassandra lets it through as itself, recorded as an error, answered SERVER_ERROR (500)', async () => {
    const failure = answered(codes.invalid)
    const cassandra = clientFailingWith(failure)

    const err = await cassandra.call().catch((e: unknown) => e)

    expect(err).toBe(failure)
    expect(cassandra.outcomes).toEqual(['error'])
    expect(codeFor(err)).toBe('SERVER_ERROR')
  })
})

describe('isCasOutcomeUnknown: a lightweight transaction whose outcome a serial read must settle', () => {
  it.each([
    ['a write timeout', answered(codes.writeTimeout)],
    ['a write failure (replicas failed the round; another may have accepted the proposal)', answered(codes.writeFailure)],
    ['no answer within the driver timeout', new errors.OperationTimedOutError('no answer')],
  ])('when the transaction met %s, then its outcome is unknown, as runCassandra raises it', async (_, failure) => {
    const err = await clientFailingWith(failure)
      .call()
      .catch((e: unknown) => e)

    expect(isCasOutcomeUnknown(err)).toBe(true)
  })

  it.each([
    ['unavailable (too few replicas alive: nothing was proposed)', answered(codes.unavailableException)],
    ['a read failure (of its serial read)', answered(codes.readFailure)],
    ['an invalid query', answered(codes.invalid)],
  ])('when the transaction met %s, then its outcome is known: it did not apply', async (_, failure) => {
    const err = await clientFailingWith(failure)
      .call()
      .catch((e: unknown) => e)

    expect(isCasOutcomeUnknown(err)).toBe(false)
  })
})
