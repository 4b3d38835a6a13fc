import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedUser, type SeedUser } from '../../scripts/lib/seed-users.js'
import { userDelete } from '../../src/http/operations/user-delete.js'
import { createSchemaRegistry } from '../../src/schemas/schema-registry.js'
import { createCassandraClient } from '../../src/store/cassandra-client.js'
import { type ContractServer, startContractServer } from '../support/contract-server.js'
import { testConfig } from '../support/harness.js'
import { TEST_KEYSPACE } from '../support/test-env.js'
import { personalValues, readUserState } from '../support/user-state.js'

const BURST = 30

type Outcome =
  | { kind: 'answered'; status: number; body: unknown; at: number }
  | { kind: 'no response' }
  /** Headers arrived, then the body broke off: the one thing a graceful stop must never do. */
  | { kind: 'cut'; status: number }

type State = Awaited<ReturnType<typeof readUserState>>

describe('SIGTERM during a burst of deletes', () => {
  const db = createCassandraClient(testConfig().cassandra)
  const schemas = createSchemaRegistry({ allErrors: true })
  const users: { seed: SeedUser; before: State; pii: string[] }[] = []
  let server: ContractServer
  let outcomes: Outcome[]
  let signalAt: number
  let exitCode: number | null
  /** From the last answer to the process's exit: Cassandra's pool closing, no keep-alive wait. */
  let exitAfterLastAnswerMs: number

  async function remove(user: SeedUser): Promise<Outcome> {
    let response: Response
    try {
      response = await fetch(`${server.url}${userDelete.paths[0]}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiBearer}`, 'x-authenticated-user-token': server.userToken({ sub: user.id }) },
        body: JSON.stringify({ request: { userId: user.id } }),
      })
    } catch {
      return { kind: 'no response' }
    }
    try {
      const text = await response.text()
      return { kind: 'answered', status: response.status, body: JSON.parse(text) as unknown, at: performance.now() }
    } catch {
      return { kind: 'cut', status: response.status }
    }
  }

  beforeAll(async () => {
    await Promise.all(
      Array.from({ length: BURST }, async () => {
        const seed: SeedUser = { id: randomUUID(), externalIds: [{ provider: 'state-board', idType: 'student-id', externalId: `SB-${randomUUID()}` }] }
        await seedUser(db, TEST_KEYSPACE, seed)
        const before = await readUserState(db, seed.id)
        users.push({ seed, before, pii: personalValues(seed, Object.fromEntries(Object.entries(before.user ?? {}))) })
      }),
    )
    server = await startContractServer()

    // Act: the whole burst at once; SIGTERM as soon as the first answer is back, so that the
    // rest are in flight (or not yet accepted) when the server is told to stop.
    const pending = users.map(({ seed }) => remove(seed))
    await Promise.race(pending)
    signalAt = performance.now()
    const exited = server.stop('SIGTERM')
    outcomes = await Promise.all(pending)
    exitCode = await exited
    exitAfterLastAnswerMs = performance.now() - Math.max(signalAt, ...outcomes.map((o) => (o.kind === 'answered' ? o.at : 0)))
  })
  afterAll(async () => {
    await server?.stop()
    await db.shutdown()
  })

  it('then the process stops cleanly (exit 0) and promptly, keep-alive connections included', () => {
    expect(exitCode).toBe(0)
    // Well under Node's 5 s keep-alive timeout: idle connections were closed, not waited out.
    expect(exitAfterLastAnswerMs).toBeLessThan(3000)
    expect(server.logs.some((line) => line.includes('"stopped"'))).toBe(true)
  })

  it('then requests in flight at the signal were finished and answered', () => {
    const answeredAfterSignal = outcomes.filter((o) => o.kind === 'answered' && o.at > signalAt)

    expect(answeredAfterSignal.length).toBeGreaterThan(0)
  })

  it('then every answer that arrived is a complete envelope, and none broke off half-way', () => {
    const success = schemas.validator(userDelete.responseSchema as string)
    const error = schemas.validator('error.response')

    expect(outcomes.filter((o) => o.kind === 'cut')).toEqual([])
    for (const outcome of outcomes) {
      if (outcome.kind !== 'answered') continue
      const validate = outcome.status === 200 ? success : error
      expect(validate(outcome.body), JSON.stringify({ outcome, errors: validate.errors })).toBe(true)
    }
  })

  it('then each user is either fully deleted or untouched, and every 200 is fully deleted', async () => {
    const isFullyDeleted = (state: State, pii: string[]) => {
      const row = JSON.stringify(state.user ?? {})
      return state.user?.get('status') === 2 && state.user.get('isdeleted') === true && state.lookups.length === 0 && state.identities.length === 0 && pii.every((value) => !row.includes(value))
    }
    const isUntouched = (state: State, before: State, pii: string[]) => {
      const row = JSON.stringify(state.user ?? {})
      return (
        state.user?.get('status') === 1 &&
        state.user.get('isdeleted') === false &&
        state.lookups.length === before.lookups.length &&
        state.identities.length === before.identities.length &&
        pii.every((value) => row.includes(value))
      )
    }

    const verdicts = await Promise.all(
      users.map(async ({ seed, before, pii }, index) => {
        const after = await readUserState(db, seed.id)
        const outcome = outcomes[index] as Outcome
        return { id: seed.id, outcome: outcome.kind === 'answered' ? outcome.status : outcome.kind, deleted: isFullyDeleted(after, pii), untouched: isUntouched(after, before, pii) }
      }),
    )

    expect(pii(users)).toBeGreaterThan(BURST * 5)
    for (const verdict of verdicts) {
      if (verdict.outcome === 200) expect(verdict, 'answered 200 but not fully deleted').toMatchObject({ deleted: true })
      else expect(verdict.deleted || verdict.untouched, `half-way: ${JSON.stringify(verdict)}`).toBe(true)
    }
    expect(verdicts.filter((v) => v.outcome === 200).length).toBeGreaterThan(0)
  })
})

const pii = (users: { pii: string[] }[]) => users.reduce((sum, user) => sum + user.pii.length, 0)
