import { isDeleted } from './is-deleted.js'
import type { UserDeletionState, UserDeletionStates, UserRecord, UserStore } from './ports.js'

/**
 * Where a user stands in the deletion lifecycle, from the user row and the deletion state:
 * - `missing`: no row;
 * - `active`: not deleted;
 * - `soft`: locked out, everything kept, restorable (also while a cancel is restoring it);
 * - `sunbird`: erased by Sunbird's deletion (no mode, or the end of a grace period);
 * - `hard`: erased and reduced to a tombstone: to every later request a user that does not exist.
 */
export type UserCondition =
  | { kind: 'missing' }
  | { kind: 'active'; user: UserRecord }
  | { kind: 'soft'; user: UserRecord; held: UserDeletionState }
  | { kind: 'sunbird'; user: UserRecord; held?: UserDeletionState }
  | { kind: 'hard'; user?: UserRecord; held: UserDeletionState }

/** The one place the lifecycle position of a user is decided. */
export function conditionOf(user: UserRecord | undefined, held: UserDeletionState | undefined): UserCondition {
  if (held?.mode === 'hard') return { kind: 'hard', held, ...(user && { user }) }
  if (!user) return { kind: 'missing' }
  // A soft hold whose owner has not locked the row yet counts as soft: that owner either locks it or gives the hold back.
  if (held?.mode === 'soft' || held?.mode === 'restoring') return { kind: 'soft', user, held }
  if (held?.mode === 'sunbird') return { kind: 'sunbird', user, held }
  if (isDeleted(user)) return { kind: 'sunbird', user }
  return { kind: 'active', user }
}

type ConditionReads = { users: Pick<UserStore, 'findUser'>; states: Pick<UserDeletionStates, 'get'> }

/**
 * The row once more, read after the deletion state was: only for a deleted row with no state,
 * which is Sunbird's deletion (final), or a cancel that finished between the two reads. A cancel
 * puts the row back before it clears the state, so a row read after a cleared state sees it back.
 * Any other answer (an active user, a hold) costs no second read.
 */
async function rowAfterState(deps: ConditionReads, userId: string, user: UserRecord | undefined, held: UserDeletionState | undefined): Promise<UserRecord | undefined> {
  if (held || !user || !isDeleted(user)) return user
  return deps.users.findUser(userId)
}

export async function readCondition(deps: ConditionReads, userId: string): Promise<UserCondition> {
  const [user, held] = await Promise.all([deps.users.findUser(userId), deps.states.get(userId)])
  return conditionOf(await rowAfterState(deps, userId, user, held), held)
}

/**
 * Where a user stands for the lock-out: `active` while the row is not deleted (a request may hold
 * it, but has not locked it yet); a soft deletion (or one being restored) is `restorable`, which a
 * cancel may undo; any other deletion is final. The one place this is decided.
 *
 * The row is read first (one read for an active user, the hot path), then, only when it is
 * deleted, the deletion state. A cancel finishing between the two (row read still deleted, state
 * read already cleared) would look like Sunbird's deletion, and "deleted" is cached a day: so a
 * deleted row with no state is read once more (rowAfterState), which then sees the row put back.
 */
export async function lockOutStanding(deps: ConditionReads, userId: string): Promise<'active' | 'restorable' | 'deleted'> {
  const user = await deps.users.findUser(userId)
  if (!user || !isDeleted(user)) return 'active'
  const held = await deps.states.get(userId)
  if (held?.mode === 'soft' || held?.mode === 'restoring') return 'restorable'
  if (held) return 'deleted'
  const again = await deps.users.findUser(userId)
  return again && isDeleted(again) ? 'deleted' : 'active'
}
