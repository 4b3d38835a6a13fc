import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { InMemoryBatchJobs } from '../../../test/support/fakes/in-memory-batch-jobs.js'
import { InMemoryIdempotencyKeys } from '../../../test/support/fakes/in-memory-idempotency-keys.js'
import { batchJobId, cancelBatch, readBatchStatus, submitBatch } from '../../deletion/batch-job.js'
import { DependencyUnavailableError } from '../../deletion/errors.js'
import { errorEntry } from '../error-codes.js'
import { userDeleteBatch } from './user-delete-batch.js'
import { userDeleteBatchCancel } from './user-delete-batch-cancel.js'
import { userDeleteBatchStatus } from './user-delete-batch-status.js'

const ORG = 'org-batch'
const ADMIN = '0b6f3a52-7c1e-4d0a-9e2b-5f8c1d3a7e64'

/**
 * The app over fakes, its batch services the real ones over an in-memory job store, each job's id
 * chosen as the service chooses it (from the Idempotency-Key when one is sent); `beforeCreate` may
 * hold a submit at its write; `idempotencyNow`: the clock of the Idempotency-Key store (ms).
 */
function batchApp(beforeCreate: () => Promise<void> = async () => {}, options: { idempotencyNow?: () => number; requestTimeoutMs?: number } = {}) {
  const jobs = new InMemoryBatchJobs()
  const create = jobs.create.bind(jobs)
  /** The id of every job a submit went to record, recorded or not. */
  const ids: string[] = []
  jobs.create = async (job) => {
    ids.push(job.id)
    await beforeCreate()
    return create(job)
  }
  const clock = { now: () => new Date() }
  const fakes = appOverFakes(
    {},
    {
      batches: {
        submitBatch: ({ caller, userIds, mode, idempotencyKey, ...deadline }) =>
          submitBatch({ jobs, clock, sliceSize: 100 }, { jobId: batchJobId(idempotencyKey), caller, userIds, ...(mode && { mode }), ...deadline }),
        readBatchStatus: (input) => readBatchStatus({ jobs, clock }, input),
        cancelBatch: (input) => cancelBatch({ jobs, clock }, input),
      },
      ...(options.idempotencyNow && { idempotencyKeys: new InMemoryIdempotencyKeys(options.idempotencyNow) }),
      ...(options.requestTimeoutMs && { requestTimeoutMs: options.requestTimeoutMs }),
    },
  )
  const token = fakes.userToken({ sub: ADMIN, roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
  /** Another person of the same portal (the same API consumer): a user token of their own. */
  const otherPerson = fakes.userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: ORG }] }] })
  const post = (path: string, request: Record<string, unknown>, headers: Record<string, string> = {}) =>
    Promise.resolve(
      fakes.app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': token, ...headers },
        body: JSON.stringify({ request }),
      }),
    )
  /** The jobs recorded: those under the distinct ids the submits went to record that the store holds. */
  const jobsRecorded = async () => (await Promise.all([...new Set(ids)].map((id) => jobs.get(id)))).filter((job) => job !== undefined)
  return { post, jobs, otherPerson, jobsCreated: () => jobs.timeline.count('jobs.create'), jobIdsAsked: () => [...ids], jobsRecorded }
}

/** The store's open, run for real and then failing once, as a write that landed but whose answer timed out. */
function failOpenOnceAfterItLands(jobs: InMemoryBatchJobs): void {
  const open = jobs.open.bind(jobs)
  let failed = false
  jobs.open = async (job, items) => {
    await open(job, items)
    if (failed) return
    failed = true
    throw new DependencyUnavailableError('cassandra')
  }
}

const SUBMIT = userDeleteBatch.paths[0]
// The service path behind Sunbird's gateway.
const GATEWAY_SUBMIT = '/v1/user/delete/batch'
const STATUS = userDeleteBatchStatus.paths[0]
const CANCEL = userDeleteBatchCancel.paths[0]
const errOf = async (response: Response) => ((await response.json()) as { params: { err: string } }).params.err

describe('POST /api/user/v1/delete/batch with Idempotency-Key', () => {
  it('when a submit is retried with the same key after its 202 was lost, then the first 202 is replayed byte for byte, marked, and no second job is recorded', async () => {
    const { post, jobsCreated } = batchApp()
    const request = { userIds: [randomUUID(), randomUUID()], mode: 'hard' }
    const keyed = { 'idempotency-key': randomUUID() }

    const first = await post(SUBMIT, request, keyed)
    const firstBody = await first.text()
    const retry = await post(SUBMIT, request, { ...keyed, 'x-request-id': 'the-retry' })

    expect(first.status, firstBody).toBe(202)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    expect(retry.status).toBe(202)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.headers.get('x-response-length')).toBe(first.headers.get('x-response-length'))
    expect(await retry.text()).toBe(firstBody)
    expect(jobsCreated()).toBe(1)
  })

  it('when another person behind the same API consumer sends the same key and ids, then it is their own first use: a job of their own, never the first person’s answer', async () => {
    const { post, otherPerson, jobsCreated } = batchApp()
    const request = { userIds: [randomUUID()] }
    const keyed = { 'idempotency-key': randomUUID() }

    const first = await post(SUBMIT, request, keyed)
    const theirs = await post(SUBMIT, request, { ...keyed, 'x-authenticated-user-token': otherPerson })

    expect(theirs.status).toBe(202)
    expect(theirs.headers.get('idempotent-replayed')).toBeNull()
    expect(((await theirs.json()) as { result: { jobId: string } }).result.jobId).not.toBe(((await first.json()) as { result: { jobId: string } }).result.jobId)
    expect(jobsCreated()).toBe(2)
  })

  it("when the retry comes on the gateway's path, then it is the same operation: the first 202 is replayed", async () => {
    const { post, jobsCreated } = batchApp()
    const request = { userIds: [randomUUID()] }
    const keyed = { 'idempotency-key': randomUUID() }

    const first = await post(SUBMIT, request, keyed)
    const retry = await post(GATEWAY_SUBMIT, request, keyed)

    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(await retry.text()).toBe(await first.text())
    expect(jobsCreated()).toBe(1)
  })

  it('when the same key comes with other ids, then 422 UOS_USRDLT0098 and no job is recorded for them', async () => {
    const { post, jobsCreated } = batchApp()
    const keyed = { 'idempotency-key': randomUUID() }
    expect((await post(SUBMIT, { userIds: [randomUUID()] }, keyed)).status).toBe(202)

    const reused = await post(SUBMIT, { userIds: [randomUUID()] }, keyed)

    expect(reused.status).toBe(422)
    expect(await errOf(reused)).toBe(errorEntry('IDEMPOTENCY_KEY_REUSED').err)
    expect(jobsCreated()).toBe(1)
  })

  it('when the same key arrives while the first submit is still recording its job, then 409 UOS_USRDLT0099; once it has answered, its 202 is replayed', async () => {
    let letGo!: () => void
    const held = new Promise<void>((resolve) => {
      letGo = resolve
    })
    let reached!: () => void
    const atWrite = new Promise<void>((resolve) => {
      reached = resolve
    })
    const { post, jobsCreated } = batchApp(() => {
      reached()
      return held
    })
    const request = { userIds: [randomUUID()] }
    const keyed = { 'idempotency-key': randomUUID() }

    const first = post(SUBMIT, request, keyed)
    await atWrite
    const during = await post(SUBMIT, request, keyed)
    letGo()
    const firstBody = await (await first).text()
    const after = await post(SUBMIT, request, keyed)

    expect(during.status).toBe(409)
    expect(await errOf(during)).toBe(errorEntry('IDEMPOTENCY_KEY_IN_FLIGHT').err)
    expect(after.headers.get('idempotent-replayed')).toBe('true')
    expect(await after.text()).toBe(firstBody)
    expect(jobsCreated()).toBe(1)
  })

  it('when the first submit met Cassandra unavailable (503), then the key is not kept: a retry with it runs anew and records the job', async () => {
    const { post, jobs } = batchApp()
    jobs.failNext('create', new DependencyUnavailableError('cassandra'))
    const request = { userIds: [randomUUID()] }
    const keyed = { 'idempotency-key': randomUUID() }

    const failed = await post(SUBMIT, request, keyed)
    const retry = await post(SUBMIT, request, keyed)

    expect(failed.status).toBe(503)
    expect(retry.status).toBe(202)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(await jobs.listOpen()).toHaveLength(1)
  })

  it('when the first submit’s last write (the open listing) failed after landing (503), then a retry with the key completes that job: 202 with its jobId and total, not replayed, and no second job', async () => {
    const { post, jobs, jobIdsAsked, jobsRecorded } = batchApp()
    failOpenOnceAfterItLands(jobs)
    const request = { userIds: [randomUUID(), randomUUID()], mode: 'hard' }
    const keyed = { 'idempotency-key': randomUUID() }

    const failed = await post(SUBMIT, request, keyed)
    const retry = await post(SUBMIT, request, keyed)

    expect(failed.status).toBe(503)
    expect(retry.status).toBe(202)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    const { result } = (await retry.json()) as { result: { jobId: string; total: number } }
    // Both tries went for the one id that follows from the key.
    expect(new Set(jobIdsAsked())).toEqual(new Set([result.jobId]))
    expect(result.total).toBe(2)
    expect(await jobsRecorded()).toHaveLength(1)
    expect(await jobs.listOpen()).toEqual([result.jobId])
    expect((await jobs.itemsPage(result.jobId, 0, 10)).map((item) => item.userId).sort()).toEqual([...request.userIds].sort())
    // The retry's 202 is kept for the key from now on.
    const again = await post(SUBMIT, request, keyed)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
  })

  it('when the first submit stopped after recording the job, before its users (503), then the retry writes its users and lists it: one job, every user pending once', async () => {
    const { post, jobs, jobsRecorded } = batchApp()
    jobs.failNext('open', new DependencyUnavailableError('cassandra'))
    const request = { userIds: [randomUUID(), randomUUID(), randomUUID()] }
    const keyed = { 'idempotency-key': randomUUID() }

    const failed = await post(SUBMIT, request, keyed)
    const [recordedAlone] = await jobsRecorded()
    const retry = await post(SUBMIT, request, keyed)

    expect(failed.status).toBe(503)
    expect(recordedAlone).toBeDefined()
    expect(await jobs.listOpen()).toEqual([recordedAlone?.id])
    expect(retry.status).toBe(202)
    expect(((await retry.json()) as { result: { jobId: string; total: number } }).result).toEqual({ response: 'SUCCESS', jobId: recordedAlone?.id, total: 3 })
    expect(await jobsRecorded()).toHaveLength(1)
    const items = await jobs.itemsPage(recordedAlone?.id as string, 0, 10)
    expect(items.map((item) => [item.userId, item.status]).sort()).toEqual(request.userIds.map((userId) => [userId, 'pending']).sort())
  })

  it('when the job was worked between the failed submit and its retry, then the retry resets nothing: a deleted user stays deleted, a taken slice stays its holder’s', async () => {
    const { post, jobs } = batchApp()
    failOpenOnceAfterItLands(jobs)
    const [done, waiting] = [randomUUID(), randomUUID()]
    const request = { userIds: [done, waiting] }
    const keyed = { 'idempotency-key': randomUUID() }
    expect((await post(SUBMIT, request, keyed)).status).toBe(503)
    // A runner found the job its listing landed for, took its slice and deleted a user.
    const [jobId] = await jobs.listOpen()
    const until = new Date(Date.now() + 60_000)
    const at = new Date()
    await jobs.acquireSlice(jobId as string, 0, 'instance-a', new Date(), until)
    await jobs.recordItem(jobId as string, { userId: done, slice: 0, status: 'deleted', attempts: 0, at }, until)

    const retry = await post(SUBMIT, request, keyed)

    expect(retry.status).toBe(202)
    expect(((await retry.json()) as { result: { jobId: string } }).result.jobId).toBe(jobId)
    expect(await jobs.items(jobId as string, 0)).toEqual(
      expect.arrayContaining([
        { userId: done, slice: 0, status: 'deleted', attempts: 0, at },
        { userId: waiting, slice: 0, status: 'pending', attempts: 0 },
      ]),
    )
    expect(await jobs.slices(jobId as string)).toEqual([{ slice: 0, done: false, leaseUntil: until, taken: true }])
  })

  it('when the job was completed before the retry came, then the retry answers its 202, and it stays completed and unlisted', async () => {
    const { post, jobs } = batchApp()
    failOpenOnceAfterItLands(jobs)
    const request = { userIds: [randomUUID()] }
    const keyed = { 'idempotency-key': randomUUID() }
    expect((await post(SUBMIT, request, keyed)).status).toBe(503)
    const [jobId] = await jobs.listOpen()
    await jobs.complete(jobId as string)

    const retry = await post(SUBMIT, request, keyed)

    expect(retry.status).toBe(202)
    expect(((await retry.json()) as { result: { jobId: string; total: number } }).result).toMatchObject({ jobId, total: 1 })
    expect((await jobs.get(jobId as string))?.state).toBe('completed')
    expect(await jobs.listOpen()).toEqual([])
  })

  it('when the key comes again past its 24 h with other ids, then its job is not theirs: 422 UOS_USRDLT0098, and the job stays as it was', async () => {
    let now = Date.now()
    const { post, jobs, jobsRecorded } = batchApp(async () => {}, { idempotencyNow: () => now })
    const keyed = { 'idempotency-key': randomUUID() }
    const first = [randomUUID(), randomUUID()]
    const { jobId } = ((await (await post(SUBMIT, { userIds: first }, keyed)).json()) as { result: { jobId: string } }).result
    now += 25 * 3600 * 1000

    const reused = await post(SUBMIT, { userIds: [randomUUID(), randomUUID()] }, keyed)
    const otherMode = await post(SUBMIT, { userIds: first, mode: 'soft' }, keyed)

    expect(reused.status).toBe(422)
    expect(await errOf(reused)).toBe(errorEntry('IDEMPOTENCY_KEY_REUSED').err)
    expect(otherMode.status).toBe(422)
    expect(await jobsRecorded()).toHaveLength(1)
    expect((await jobs.itemsPage(jobId, 0, 10)).map((item) => item.userId).sort()).toEqual([...first].sort())
  })

  it('when the key is empty, then 400 UOS_USRDLT0097 and no job is recorded', async () => {
    const { post, jobsCreated } = batchApp()

    const response = await post(SUBMIT, { userIds: [randomUUID()] }, { 'idempotency-key': '' })

    expect(response.status).toBe(400)
    expect(await errOf(response)).toBe(errorEntry('IDEMPOTENCY_KEY_INVALID').err)
    expect(jobsCreated()).toBe(0)
  })

  it('when no key is sent, then each submit records its own job, as before, and nothing is marked replayed', async () => {
    const { post, jobsCreated } = batchApp()
    const request = { userIds: [randomUUID()] }

    const first = (await (await post(SUBMIT, request)).json()) as { result: { jobId: string } }
    const second = await post(SUBMIT, request)

    expect(second.status).toBe(202)
    expect(second.headers.get('idempotent-replayed')).toBeNull()
    expect(((await second.json()) as { result: { jobId: string } }).result.jobId).not.toBe(first.result.jobId)
    expect(jobsCreated()).toBe(2)
  })
})

describe('POST /api/user/v1/delete/batch refuses what a single delete takes and a job cannot do', () => {
  it.each([
    ['a dry run', { dryRun: true }],
    ['a grace period', { gracePeriodDays: 14 }],
    ['a grace period with a hard mode', { mode: 'hard', gracePeriodDays: 7 }],
    ['a dry run that is not a boolean', { dryRun: 'yes' }],
  ])('when a submit asks for %s, then 400 UOS_USRDLT0105 and no job is recorded: nobody is erased by a job meant as a preview or a delay', async (_what, fields) => {
    const { post, jobsCreated } = batchApp()

    const response = await post(SUBMIT, { userIds: [randomUUID()], ...fields })

    expect(response.status).toBe(400)
    expect(await errOf(response)).toBe(errorEntry('BATCH_OPTION_NOT_SUPPORTED').err)
    expect(jobsCreated()).toBe(0)
  })

  it('when a submit says dryRun false, then it is the job it always was: 202', async () => {
    const { post, jobsCreated } = batchApp()

    const response = await post(SUBMIT, { userIds: [randomUUID()], dryRun: false })

    expect(response.status).toBe(202)
    expect(jobsCreated()).toBe(1)
  })
})

describe('POST /api/user/v1/delete/batch/status is not keyed', () => {
  it('when a status read carries an Idempotency-Key, then every read is answered afresh, and the key stays free for a submit', async () => {
    const { post, jobsCreated } = batchApp()
    const key = { 'idempotency-key': randomUUID() }
    const jobId = ((await (await post(SUBMIT, { userIds: [randomUUID()] })).json()) as { result: { jobId: string } }).result.jobId

    const reads = [await post(STATUS, { jobId }, key), await post(STATUS, { jobId }, key)]
    const submit = await post(SUBMIT, { userIds: [randomUUID()] }, key)

    for (const read of reads) {
      expect(read.status).toBe(200)
      expect(read.headers.get('idempotent-replayed')).toBeNull()
    }
    // Two answers, each with its own msgid: both were read, not one replayed.
    const [a, b] = (await Promise.all(reads.map((read) => read.json()))) as { params: { msgid: string } }[]
    expect(a?.params.msgid).not.toBe(b?.params.msgid)
    expect(submit.status).toBe(202)
    expect(submit.headers.get('idempotent-replayed')).toBeNull()
    expect(jobsCreated()).toBe(2)
  })

  it('when the job id is sent upper-case, then it is the same job: its status, under the id as issued', async () => {
    const { post } = batchApp()
    const { jobId } = ((await (await post(SUBMIT, { userIds: [randomUUID()] })).json()) as { result: { jobId: string } }).result

    const response = await post(STATUS, { jobId: jobId.toUpperCase() })

    expect(response.status).toBe(200)
    expect(((await response.json()) as { result: { jobId: string } }).result.jobId).toBe(jobId)
  })
})

describe('POST /api/user/v1/delete/batch against the request deadline', () => {
  it('when recording the job outlasts the deadline, then the answer waits for it and is its 202, never a 503 over a job recorded after all', async () => {
    const { post, jobsRecorded } = batchApp(() => new Promise((resolve) => setTimeout(resolve, 600)), { requestTimeoutMs: 300 })

    const response = await post(SUBMIT, { userIds: [randomUUID(), randomUUID()] })

    expect(response.status).toBe(202)
    const { jobId } = ((await response.json()) as { result: { jobId: string } }).result
    expect((await jobsRecorded()).map((job) => job.id)).toEqual([jobId])
  })
})

describe('POST /api/user/v1/delete/batch/cancel', () => {
  type Cancelled = { id: string; responseCode: string; result: { response: string; jobId: string; state: string; alreadyCancelled?: boolean; cancelledAt?: string } }
  const submitted = async (post: ReturnType<typeof batchApp>['post']) => ((await (await post(SUBMIT, { userIds: [randomUUID(), randomUUID()] })).json()) as { result: { jobId: string } }).result.jobId

  it("when the job's creator cancels it, then 200 cancelled in the route's own envelope, and the job records who and when; its status reads cancelled", async () => {
    const { post, jobs } = batchApp()
    const jobId = await submitted(post)

    const response = await post(CANCEL, { jobId })

    expect(response.status).toBe(200)
    const body = (await response.json()) as Cancelled
    expect(body).toMatchObject({ id: 'api.user.delete.batch.cancel', responseCode: 'OK' })
    const recorded = (await jobs.get(jobId))?.cancelled
    expect(recorded).toEqual({ at: expect.any(Date), by: ADMIN })
    // This call recorded the cancel, at the time the job holds.
    expect(body.result).toEqual({ response: 'SUCCESS', jobId, state: 'cancelled', alreadyCancelled: false, cancelledAt: recorded?.at.toISOString() })
    const status = (await (await post(STATUS, { jobId })).json()) as { result: { state: string; cancelled: number } }
    expect(status.result).toMatchObject({ state: 'cancelled', cancelled: 0 })
  })

  it('when a cancelled job is cancelled again, then 200 cancelled, saying a cancel was recorded already and when; the first cancel’s who and when stay', async () => {
    const { post, jobs } = batchApp()
    const jobId = await submitted(post)
    await post(CANCEL, { jobId })
    const first = (await jobs.get(jobId))?.cancelled

    const again = await post(CANCEL, { jobId })

    expect(again.status).toBe(200)
    expect(((await again.json()) as Cancelled).result).toEqual({ response: 'SUCCESS', jobId, state: 'cancelled', alreadyCancelled: true, cancelledAt: first?.at.toISOString() })
    expect((await jobs.get(jobId))?.cancelled).toEqual(first)
  })

  it('when another person who is no ORG_ADMIN of the job’s organisation asks, then 403 and the job is not cancelled', async () => {
    const { post, jobs } = batchApp()
    const jobId = await submitted(post)
    // The test app's fakes verify any token its realm signs: a person of another organisation.
    const outsider = appOverFakes().userToken({ sub: randomUUID(), roles: [{ role: 'ORG_ADMIN', scope: [{ organisationId: 'org-other' }] }] })

    const response = await post(CANCEL, { jobId }, { 'x-authenticated-user-token': outsider })

    expect(response.status).toBe(403)
    // Sunbird's 403 is plain text, on every route of its dialect.
    expect(await response.text()).toBe(errorEntry('FORBIDDEN').errmsg)
    expect((await jobs.get(jobId))?.cancelled).toBeUndefined()
  })

  it('when no job has the id, then 404 with the batch job code; a job id that is no UUID is refused before anything is read', async () => {
    const { post, jobs } = batchApp()

    const unknown = await post(CANCEL, { jobId: randomUUID() })
    const reads = jobs.timeline.count('jobs.get')
    const malformed = await post(CANCEL, { jobId: 'not-a-job' })

    expect(unknown.status).toBe(404)
    expect(await errOf(unknown)).toBe(errorEntry('BATCH_JOB_NOT_FOUND').err)
    expect(malformed.status).toBe(400)
    expect(await errOf(malformed)).toBe(errorEntry('INVALID_JOB_ID').err)
    expect(jobs.timeline.count('jobs.get')).toBe(reads)
  })

  it('when every user of the job was settled before the cancel, then 200 completed, and nothing is recorded', async () => {
    const { post, jobs } = batchApp()
    const jobId = await submitted(post)
    const held = new Date(Date.now() + 30_000)
    await jobs.acquireSlice(jobId, 0, 'instance-a', new Date(), held)
    for (const item of await jobs.items(jobId, 0)) await jobs.recordItem(jobId, { ...item, status: 'deleted', at: new Date() }, held)

    const response = await post(CANCEL, { jobId })

    // The answer it always was: no word of a cancel that changed nothing.
    expect(((await response.json()) as Cancelled).result).toEqual({ response: 'SUCCESS', jobId, state: 'completed' })
    expect((await jobs.get(jobId))?.cancelled).toBeUndefined()
  })
})
