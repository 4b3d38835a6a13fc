import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import { BatchJobIdTakenError } from '../../deletion/errors.js'
import { ApiError } from '../api-error.js'
import { portalCors } from '../cors.js'
import { gatewayAndUserTokenOrTrustedConsumer } from '../credentials/gateway-and-user-token-or-trusted-consumer.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { deadlineOf, defineOperation } from '../operation.js'

export const userDeleteBatch = defineOperation({
  id: 'api.user.delete.batch',
  method: 'POST',
  paths: ['/api/user/v1/delete/batch', '/v1/user/delete/batch'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Delete up to 1000 user accounts as one durable job',
  description: [
    'Records a job (202) that every instance works through at `BATCH_MAX_DELETIONS_PER_SECOND` per job, each user deleted once through its own deletion request. ' +
      'Each id is authorised and checked as a single delete by the same caller would be: an id that fails is reported in the job with its code (`FORBIDDEN` for an authorization refusal, else the Sunbird code), it does not fail the job.',
    'The caller is the person of the user token (an ORG_ADMIN for users of their organisations, anyone for themselves), or, with the API bearer alone, a gateway consumer trusted with `"deleteAnyUser": true` in the consumers file, for any user (the admin consumer of `DELETE /api/v1/users/{id}`). Without a user token, any other consumer gets 401 `UOS_0070`.',
    'A restart or a crash leaves the job where it stopped; any instance carries on. A circuit breaker pauses the job while too many deletions meet a dependency in trouble and resumes it when they recover.',
    'Send `Idempotency-Key` to make retries safe: the same key and body within 24 h answer the first 202 again, with the same `jobId` (`Idempotent-Replayed: true`), instead of recording a second job whose users would fail as already deleted. The job id follows from the key, so a retry after a submit that failed part way (a 503, or no answer) completes the job that submit began and answers 202 with its `jobId`.',
    'When `DELETION_MAX_AUTH_AGE_SECONDS` is set, the user token must carry a recent login (401 `UOS_USRDLT0096`); a trusted consumer has no login to judge.',
  ].join('\n\n'),
  tag: 'users',
  credentials: gatewayAndUserTokenOrTrustedConsumer,
  request: { body: 'user-delete-batch.request' },
  // 1000 ids of the longest form (f:<64-character provider>:<uuid>) come to about 106 KB, pretty-printed more.
  minBodyBytes: 262_144,
  successStatus: 202,
  responseSchema: 'user-delete-batch.response',
  errors: [
    'INVALID_REQUEST_DATA',
    'INVALID_USER_IDS',
    'MANDATORY_PARAM_MISSING',
    'MANDATORY_PARAM_EMPTY',
    'DATA_TYPE_ERROR',
    'INVALID_USER_ID',
    'INVALID_DELETION_MODE',
    'BATCH_OPTION_NOT_SUPPORTED',
    'IDEMPOTENCY_KEY_INVALID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'STEP_UP_REQUIRED',
    'IDEMPOTENCY_KEY_IN_FLIGHT',
    'IDEMPOTENCY_KEY_REUSED',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
  ],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  // A 202 lost on the way back and retried would otherwise record a second job over the same users.
  idempotent: true,
  // A trusted consumer acts for no person: there is no login to judge.
  stepUp: ({ caller }) => !caller.deleteAnyUser,
  async handle(input, services) {
    const {
      body: { request },
      caller,
      idempotencyKey,
    } = input
    try {
      const job = await services.submitBatch({
        caller,
        // Sunbird reduces a federated subject (f:<provider>:<id>) to the id before anything else.
        userIds: request.userIds.map(userIdFromSubject),
        ...(request.mode !== undefined && { mode: request.mode }),
        // The job's id follows from the key: a retry after a submit that failed part way completes that job.
        ...(idempotencyKey && { idempotencyKey }),
        // A deadline passing before the job is recorded answers 503 and records none; after, the answer waits for it.
        ...deadlineOf(input),
      })
      return { response: 'SUCCESS', jobId: job.jobId, total: job.total }
    } catch (err) {
      // The key's job holds another request's ids: the key was used again, past its 24 h, for another request.
      if (err instanceof BatchJobIdTakenError) throw new ApiError('IDEMPOTENCY_KEY_REUSED', { reason: "the key's job holds another request", cause: err })
      throw err
    }
  },
})
