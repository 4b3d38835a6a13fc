import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FAKE_MAX_BODY_BYTES } from '../../test/support/fakes/app-over-fakes.js'
import { CONVERSATION_DEADLINE_MS, converse, serveOverFakes } from '../../test/support/raw-http.js'
import { bodyLimitOf } from './operation.js'
import { bearerUserDelete } from './operations/bearer-user-delete.js'
import { sessionUserDelete } from './operations/session-user-delete.js'
import { userDeleteBatch } from './operations/user-delete-batch.js'
import { v1UsersDelete } from './operations/v1-users-delete.js'
import { v2UserDelete } from './operations/v2-user-delete.js'

const USER_ID = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const BATCH_LIMIT = bodyLimitOf(userDeleteBatch, FAKE_MAX_BODY_BYTES)
/** Over the Sunbird delete route's limit, within the batch route's. */
const BETWEEN_LIMITS = FAKE_MAX_BODY_BYTES * 4
/** Every path of a REST DELETE route, its id filled in. */
const REST_DELETE_PATHS = [v2UserDelete, v1UsersDelete, sessionUserDelete, bearerUserDelete].flatMap((operation) => operation.paths.map((path) => path.replace(/:[a-z_]+/, USER_ID)))

const expecting = (method: string, path: string, length: number) =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`

// A conversation may wait up to CONVERSATION_DEADLINE_MS on a loaded machine before it fails naming what came.
describe('Expect: 100-continue, answered by the limit of the route it is sent to', { timeout: CONVERSATION_DEADLINE_MS * 1.5 }, () => {
  let served: Awaited<ReturnType<typeof serveOverFakes>>
  beforeAll(async () => {
    served = await serveOverFakes()
  })
  afterAll(() => served.close())

  it('when the declared body is within the route’s limit, then the client is told to go on (100 Continue) and its body is read', async () => {
    // Not JSON: refused for it (400, before the credentials), so it was read.
    const body = '{"request":'
    const { answers } = await converse(served.port, expecting('POST', '/api/user/v1/delete', body.length), [body], { finalAnswers: 1 })

    expect(answers.map((answer) => answer.status)).toEqual([100, 400])
    expect(JSON.parse(answers[1]?.body ?? '{}').params.err).toBe('UOS_USRDLT0028')
  })

  it('when the declared body is over every route’s limit, then no 100 Continue is sent: the first answer is the 413, and the connection is closed', async () => {
    const { answers, closedByServer } = await converse(served.port, expecting('POST', '/api/user/v1/delete', BATCH_LIMIT * 100))

    expect(answers.map((answer) => answer.status)).toEqual([413])
    expect(answers[0]?.headers.connection).toBe('close')
    expect(closedByServer).toBe(true)
  })

  it('when the declared body is over the route’s own limit but within another route’s, then the 413 comes first, not 100 Continue', async () => {
    const { answers, closedByServer } = await converse(served.port, expecting('POST', '/api/user/v1/delete', BETWEEN_LIMITS))

    expect(answers.map((answer) => answer.status)).toEqual([413])
    expect(JSON.parse(answers[0]?.body ?? '{}').params.errmsg).toBe(`Maximum upload data size should be ${FAKE_MAX_BODY_BYTES}`)
    expect(answers[0]?.headers.connection).toBe('close')
    expect(closedByServer).toBe(true)
  })

  it('when the same length goes to a route whose limit it is within (the batch submit), then that route says 100 Continue and reads the body', async () => {
    // Not JSON: refused for it (400), so it was read.
    const { answers } = await converse(served.port, expecting('POST', '/api/user/v1/delete/batch', BETWEEN_LIMITS), ['{'.repeat(BETWEEN_LIMITS)], { finalAnswers: 1 })

    expect(answers.map((answer) => answer.status)).toEqual([100, 400])
  })

  it.each(REST_DELETE_PATHS)(
    'when a DELETE to %s, which reads no body, expects 100-continue, then it is not told to send the body: the final answer comes at once and the connection is closed',
    async (path) => {
      const { answers, closedByServer } = await converse(served.port, expecting('DELETE', path, 16))

      expect(answers.map((answer) => answer.status)).toEqual([401])
      expect(answers[0]?.headers.connection).toBe('close')
      expect(closedByServer).toBe(true)
    },
  )
})
