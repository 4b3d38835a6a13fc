import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorEntry } from '../../src/http/error-codes.js'
import { expectDeleted, expectError } from '../support/assertions.js'
import { postTo, waitForJob } from '../support/batch-jobs.js'
import { type Harness, startHarness, trustedConsumerApiBearer } from '../support/harness.js'
import { browserLogin, claimsOf, login } from '../support/keycloak.js'
import { envelopeOf, lifecycle, personInBoth } from '../support/lifecycle.js'
import { readUserState } from '../support/user-state.js'
import { waitUntil } from '../support/wait-until.js'

/**
 * The strict harness's limit. auth_time is in whole seconds, so a login just made already reads up to
 * a second old; 3 s leaves a fresh login room on a loaded machine, and a wait past 4 s makes an old one old.
 */
const STRICT_MAX_AUTH_AGE_SECONDS = 3
const STEP_UP_CHALLENGE = (maxAge: number) => `Bearer error="insufficient_user_authentication", max_age=${maxAge}`

/**
 * DELETION_MAX_AUTH_AGE_SECONDS with real tokens from the local Keycloak: a browser login carries
 * `auth_time` (the basic scope's mapper); a password grant carries none, and its session's start
 * (`sid`) stands for the login.
 */
describe('step-up for a deletion (DELETION_MAX_AUTH_AGE_SECONDS)', () => {
  let recent: Harness
  let strict: Harness
  beforeAll(async () => {
    recent = await startHarness({ auth: { userToken: { publicKeyDir: '' } }, deletion: { maxAuthAgeSeconds: 300 } })
    strict = await startHarness({ auth: { userToken: { publicKeyDir: '' } }, deletion: { maxAuthAgeSeconds: STRICT_MAX_AUTH_AGE_SECONDS } })
  })
  afterAll(async () => {
    await Promise.all([recent.close(), strict.close()])
  })

  it('when the person logged in through the browser moments ago, then the token carries auth_time and the deletion goes ahead', async () => {
    const person = await personInBoth(recent)
    const tokens = await browserLogin(person)
    expect(claimsOf(tokens.access_token).auth_time).toEqual(expect.any(Number))

    await expectDeleted(await lifecycle(recent).remove(person.id, { mode: 'soft' }, { 'x-authenticated-user-token': tokens.access_token }))
  })

  it('when the person logged in by password grant moments ago (no auth_time), then the session start counts and the deletion goes ahead', async () => {
    const person = await personInBoth(recent)
    const tokens = (await login(person))!
    expect(claimsOf(tokens.access_token).auth_time).toBeUndefined()

    await expectDeleted(await lifecycle(recent).remove(person.id, {}, { 'x-authenticated-user-token': tokens.access_token }))
  })

  it.each([
    ['a browser login', browserLogin],
    ['a password grant', async (user: { username: string; password: string }) => (await login(user))!],
  ] as const)('when the login behind %s is older than allowed, then 401 with the RFC 9470 challenge, and nothing is deleted', async (_kind, loginBy) => {
    const person = await personInBoth(strict)
    const tokens = await loginBy(person)
    const loggedInAt = Date.now()
    await waitUntil('the login to be older than allowed', () => Date.now() - loggedInAt > (STRICT_MAX_AUTH_AGE_SECONDS + 1) * 1000 + 100, { intervalMs: 200 })

    const response = await lifecycle(strict).remove(person.id, { mode: 'hard' }, { 'x-authenticated-user-token': tokens.access_token })

    expect(response.headers.get('www-authenticate')).toBe(STEP_UP_CHALLENGE(STRICT_MAX_AUTH_AGE_SECONDS))
    const body = await expectError(response, 'STEP_UP_REQUIRED')
    expect(typeof body === 'string' ? '' : body.responseCode).toBe('UNAUTHORIZED')
    expect(errorEntry('STEP_UP_REQUIRED').err).toMatch(/^UOS_USRDLT00\d\d$/)
    expect((await readUserState(strict.db, person.id)).user?.get('status')).toBe(1)

    // A dry run is no deletion: the same token may preview.
    expect((await envelopeOf(await lifecycle(strict).remove(person.id, { mode: 'hard', dryRun: true }, { 'x-authenticated-user-token': tokens.access_token }))).status).toBe(200)
    // After logging in again, the deletion goes ahead.
    const fresh = await loginBy(person)
    await expectDeleted(await lifecycle(strict).remove(person.id, { mode: 'hard' }, { 'x-authenticated-user-token': fresh.access_token }))
  })

  it('when a consumer trusted with deleteAnyUser submits a batch with its API bearer alone, then there is no login to judge and the job is accepted', async () => {
    const user = await strict.seed()
    const trusted = postTo(strict.service.app, trustedConsumerApiBearer())

    const job = await trusted('/api/user/v1/delete/batch', { request: { userIds: [user.id] } }, {})

    expect(job.status).toBe(202)
    // Worked to its end here, so that no open job of this test is left for another suite's runners.
    const { jobId } = ((await job.json()) as { result: { jobId: string } }).result
    strict.service.batches.start()
    try {
      expect((await waitForJob(trusted, undefined, jobId, (status) => status.state === 'completed')).succeeded).toBe(1)
    } finally {
      await strict.service.batches.stop()
    }
  })

  it('when the token says the login is later than now plus the clock skew, then the login time is unknown: 401 with the challenge, and nothing is deleted', async () => {
    const offline = await startHarness({ deletion: { maxAuthAgeSeconds: 300 } })
    try {
      const user = await offline.seed()
      // Signed by the realm, but a login an hour ahead (a realm clock far off) is no login known to be recent.
      const ahead = offline.userToken({ sub: user.id, auth_time: Math.floor(Date.now() / 1000) + 3600 })

      const response = await offline.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': ahead })

      expect(response.headers.get('www-authenticate')).toBe(STEP_UP_CHALLENGE(300))
      await expectError(response, 'STEP_UP_REQUIRED')
      expect((await readUserState(offline.db, user.id)).user?.get('status')).toBe(1)
    } finally {
      await offline.close()
    }
  })

  it('when the setting is absent, then an old login deletes as Sunbird does', async () => {
    const plain = await startHarness()
    try {
      const user = await plain.seed()
      const old = plain.userToken({ sub: user.id, auth_time: Math.floor(Date.now() / 1000) - 86_400 })

      await expectDeleted(await plain.deleteRequest({ request: { userId: user.id } }, { 'x-authenticated-user-token': old }))
    } finally {
      await plain.close()
    }
  })
})
