import { portalCors } from '../cors.js'
import { gatewayAndUserTokenOrTrustedConsumer } from '../credentials/gateway-and-user-token-or-trusted-consumer.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { defineOperation } from '../operation.js'

/** Outcomes answered when the request names no `limit`. */
const DEFAULT_PAGE = 100

export const userDeleteBatchStatus = defineOperation({
  id: 'api.user.delete.batch.status',
  method: 'POST',
  paths: ['/api/user/v1/delete/batch/status', '/v1/user/delete/batch/status'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Follow a batch deletion job: state, counts, failures by code, rate, ETA, per-user outcomes',
  description:
    "Only the job's creator, or an ORG_ADMIN of an organisation the creator is ORG_ADMIN of, may follow it (403 otherwise). A job submitted by a trusted consumer with the API bearer alone is followed the same way, by that consumer.",
  tag: 'users',
  credentials: gatewayAndUserTokenOrTrustedConsumer,
  request: { body: 'user-delete-batch-status.request' },
  responseSchema: 'user-delete-batch-status.response',
  errors: ['INVALID_REQUEST_DATA', 'INVALID_JOB_ID', 'INVALID_PAGE', 'PAYLOAD_TOO_LARGE', 'UNAUTHORIZED', 'FORBIDDEN', 'BATCH_JOB_NOT_FOUND', 'SERVICE_UNAVAILABLE', 'SERVER_ERROR'],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  async handle({ body: { request }, caller }, services) {
    // Job ids are issued lower-case, and a UUID names the same job in either case.
    const status = await services.readBatchStatus({ caller, jobId: request.jobId.toLowerCase(), offset: request.offset ?? 0, limit: request.limit ?? DEFAULT_PAGE })
    return { ...status }
  },
})
