import { portalCors } from '../cors.js'
import { gatewayAndUserTokenOrTrustedConsumer } from '../credentials/gateway-and-user-token-or-trusted-consumer.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { deadlineOf, defineOperation } from '../operation.js'

export const userDeleteBatchCancel = defineOperation({
  id: 'api.user.delete.batch.cancel',
  method: 'POST',
  paths: ['/api/user/v1/delete/batch/cancel', '/v1/user/delete/batch/cancel'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Cancel a batch deletion job: no deletion of its users begins any more',
  description: [
    "Stops a job submitted by mistake (the wrong file, the wrong organisation): from the answer on, the instance that answered begins no deletion of the job's users, and once every other instance sees the cancel, within about a second, none begins anywhere. " +
      "A deletion already under way is finished (the user is locked out and half-erased otherwise); every other user still pending keeps their account and reads `cancelled` in the job's status, but for one whose checks (authorization, role restriction, existence, already deleted) had begun before the runner saw the cancel and fail: those checks come before the runner's last look at the cancel, right before a request would be created, so that user reads `failed` with the check's code, no deletion of theirs begun. Users deleted before the cancel stay deleted: a soft deletion among them is undone with `/api/user/v1/delete/cancel`, user by user.",
    "Only the job's creator, or an ORG_ADMIN of an organisation the creator is ORG_ADMIN of, may cancel it (403 otherwise), as for its status; a job submitted by a trusted consumer with the API bearer alone is cancelled the same way, by that consumer. Answers `cancelled`, or `completed` when every user was settled before the cancel (nothing is changed). Cancelling again is harmless: the job stays cancelled. " +
      'With `cancelled`, `alreadyCancelled` tells whether this call recorded the cancel (`false`) or an earlier one had (`true`), and `cancelledAt` when the cancel that stands was recorded: of cancels sent at once (two operators) exactly one reads `false`. A retry after a 503 may read `true` for a cancel its first try recorded.',
    'Every instance must run a build that knows the cancel (schema 15): an instance of an earlier build goes on deleting the users of the slices it takes.',
  ].join('\n\n'),
  tag: 'users',
  credentials: gatewayAndUserTokenOrTrustedConsumer,
  request: { body: 'user-delete-batch-cancel.request' },
  responseSchema: 'user-delete-batch-cancel.response',
  errors: ['INVALID_REQUEST_DATA', 'INVALID_JOB_ID', 'PAYLOAD_TOO_LARGE', 'UNAUTHORIZED', 'FORBIDDEN', 'BATCH_JOB_NOT_FOUND', 'SERVICE_UNAVAILABLE', 'SERVER_ERROR'],
  dialect: sunbirdEnvelope,
  cors: portalCors,
  async handle(input, services) {
    const {
      body: { request },
      caller,
    } = input
    // Job ids are issued lower-case, and a UUID names the same job in either case. A deadline passing
    // before the cancel is written answers 503 and writes none; after, the answer waits for it.
    const answer = await services.cancelBatch({ caller, jobId: request.jobId.toLowerCase(), ...deadlineOf(input) })
    if (answer.state === 'completed') return { response: 'SUCCESS', ...answer }
    return { response: 'SUCCESS', ...answer, cancelledAt: answer.cancelledAt.toISOString() }
  },
})
