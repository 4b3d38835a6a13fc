import type { UserRecord } from './ports.js'

/**
 * Whether a user row says "deleted": status 2 and isdeleted, as Sunbird marks it. The one place
 * this is decided: the workflow, the sweeper, the lock-out gate and the user store all ask here.
 */
export function isDeleted(user: Pick<UserRecord, 'status' | 'isDeleted'>): boolean {
  return user.status === 2 && user.isDeleted === true
}
