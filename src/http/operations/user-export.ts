import { userIdFromSubject } from '../../auth/user-token-verifier.js'
import { portalCors } from '../cors.js'
import { gatewayAndUserToken } from '../credentials/gateway-and-user-token.js'
import { sunbirdEnvelope } from '../dialects/sunbird-envelope.js'
import { defineOperation } from '../operation.js'
import { deletionRequestView } from './deletion-request-view.js'

export const userExport = defineOperation({
  id: 'api.user.export',
  method: 'POST',
  paths: ['/api/user/v1/export', '/v1/user/export'],
  aliasNote: "the service path behind Sunbird's gateway",
  summary: 'Export everything the service holds about a user',
  description:
    "Same authorization as a deletion. The user row (every column), lookups, external identities, organisations, roles, managed user ids, deletion requests and the Keycloak account; with `sunbird_encryption_key` set, the fields Sunbird stores encrypted are given decrypted: the row's columns, the lookups, their copies in the search document and the cache, and the declared email and phone (in the declarations and the external identities). Works for a soft-deleted user; an erased one is 404 `UOS_USRDLT0013` (a caller allowed for nobody hears 403 for every id, erased or not). Answers carry `Cache-Control: no-store` and are never logged.",
  tag: 'users',
  credentials: gatewayAndUserToken,
  request: { body: 'user-export.request' },
  responseSchema: 'user-export.response',
  errors: [
    'INVALID_REQUEST_DATA',
    'MANDATORY_PARAM_MISSING',
    'MANDATORY_PARAM_EMPTY',
    'DATA_TYPE_ERROR',
    'INVALID_USER_ID',
    'PAYLOAD_TOO_LARGE',
    'UNAUTHORIZED',
    'FORBIDDEN',
    'USER_NOT_FOUND',
    'SERVICE_UNAVAILABLE',
    'SERVER_ERROR',
    // Its own 405, not the shared one: it carries Cache-Control too, as every answer of the paths does.
    'METHOD_NOT_ALLOWED',
  ],
  // A parent exports their soft-deleted managed user, as an ORG_ADMIN may.
  admitSoftDeletedManagedUser: true,
  dialect: sunbirdEnvelope,
  cors: portalCors,
  // Personal data: no cache on the way may keep it.
  responseHeaders: { 'Cache-Control': 'no-store' },
  async handle({ body: { request }, caller, msgid }, services) {
    const { sections, deletionRequests } = await services.exportUser({ requestId: msgid, userId: userIdFromSubject(request.userId), caller })
    return {
      user: {
        row: sections.row ?? null,
        lookups: sections.lookups ?? [],
        externalIdentities: sections.externalIdentities ?? [],
        organisations: sections.organisations ?? [],
        roles: sections.roles ?? [],
        managedUserIds: sections.managedUserIds ?? [],
        deletionRequests: deletionRequests.map(deletionRequestView),
        keycloak: sections.keycloak ?? null,
        // Sections a store added beyond these (a step of its own) come last, under their own names.
        ...Object.fromEntries(Object.entries(sections).filter(([name]) => !KNOWN.has(name))),
      },
    }
  },
})

const KNOWN = new Set(['row', 'lookups', 'externalIdentities', 'organisations', 'roles', 'managedUserIds', 'keycloak'])
