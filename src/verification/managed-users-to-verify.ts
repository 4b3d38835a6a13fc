import type { DeletionRequest } from '../deletion/deletion-request.js'
import type { UserStore } from '../deletion/ports.js'

/** The managed users a verification checks, and where their ids came from. Ids only. */
export interface ManagedUsersToVerify {
  ids: string[]
  /** How many ids the deletion's managed-users step recorded; undefined when the request holds no outcome of that step (it has not got that far). */
  recorded: number | undefined
  /** How many of `ids` only the managedby index links to the person: users the step did not record. */
  linkedOnly: number
}

/**
 * The person's managed users, found after the deletion: the ids its managed-users step recorded
 * with the request (the only trace left once a hard deletion's tombstones have cut them loose),
 * and any user the managedby index still links to the person (Sunbird's deletion keeps the link;
 * a child the step never reached is found this way too).
 */
export async function managedUsersToVerify(request: DeletionRequest, users: Pick<UserStore, 'findManagedUserIds'>): Promise<ManagedUsersToVerify> {
  const recorded = request.steps.managedUsers?.ids
  const recordedIds = new Set(recorded ?? [])
  const linkedOnly = [...new Set(await users.findManagedUserIds(request.userId))].filter((id) => !recordedIds.has(id))
  return { ids: [...recordedIds, ...linkedOnly], recorded: recorded && recordedIds.size, linkedOnly: linkedOnly.length }
}
