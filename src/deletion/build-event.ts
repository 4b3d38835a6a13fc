import { nameBasedUuid } from './name-based-uuid.js'

/** Namespace of the event ids made from request ids (a fixed, random UUID of this product's own). */
const EVENT_ID_NAMESPACE = Buffer.from('6f1d3c528a474e0b9c1e2b7d5a9e4f30', 'hex')

/** The name-based UUID (version 5) of a request id in the namespace above: the same request always gives the same UUID. */
const requestEventUuid = (requestId: string): string => nameBasedUuid(EVENT_ID_NAMESPACE, requestId)

export interface DeleteUserEventInput {
  requestId: string
  userId: string
  organisationId: string | null
  /** Only when configuration allows it: the consumer does not need the name. */
  userName?: string | null
  suggestedUsers: { role: string; users: string[] }[]
  managedUsers: string[]
  /** When the deletion took effect (the event's ets): a fact of the request, so every run of the step builds the same mid. */
  now: Date
}

/**
 * Sunbird's delete-user instruction event (BE_JOB_REQUEST, reference §5.5), key order kept. The mid
 * follows from the request (`LP.<ets>.<UUID v5 of the request id>`): a run again after a crash, and
 * a republished event, carry the same mid, so consumers drop the duplicate and the outbox needs no
 * lightweight transaction to keep the first one.
 */
export function buildDeleteUserEvent(input: DeleteUserEventInput): Record<string, unknown> {
  const ets = input.now.getTime()
  return {
    eid: 'BE_JOB_REQUEST',
    ets,
    mid: `LP.${ets}.${requestEventUuid(input.requestId)}`,
    actor: { id: 'Sunbird LMS Flink Job', type: 'System' },
    context: { pdata: { id: 'org.sunbird.platform', ver: '1.0' }, cdata: { id: input.requestId, type: 'Request' } },
    object: { id: input.userId, type: 'user' },
    edata: {
      organisationId: input.organisationId,
      userId: input.userId,
      ...(input.userName ? { userName: input.userName } : {}),
      suggested_users: input.suggestedUsers.filter((entry) => entry.users.length > 0),
      managed_users: input.managedUsers,
      action: 'delete-user',
      iteration: 1,
    },
  }
}
