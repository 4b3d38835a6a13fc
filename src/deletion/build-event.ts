import { randomUUID } from 'node:crypto'

export interface DeleteUserEventInput {
  requestId: string
  userId: string
  organisationId: string | null
  /** Only when configuration allows it: the consumer does not need the name. */
  userName?: string | null
  suggestedUsers: { role: string; users: string[] }[]
  managedUsers: string[]
  now: Date
}

/**
 * Sunbird's delete-user instruction event (BE_JOB_REQUEST, reference §5.5), key order kept. The mid
 * is made once, when the event enters the outbox, so a republished event is recognisably the same.
 */
export function buildDeleteUserEvent(input: DeleteUserEventInput): Record<string, unknown> {
  const ets = input.now.getTime()
  return {
    eid: 'BE_JOB_REQUEST',
    ets,
    mid: `LP.${ets}.${randomUUID()}`,
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
