import { isDeleted } from './is-deleted.js'
import type { DeletionRequestStore, UserDeletionState, UserDeletionStates, UserRecord, UserStore } from './ports.js'

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

type StandingReads = ConditionReads & { requests: Pick<DeletionRequestStore, 'get'> }

/**
 * `restorable`: the user's own soft deletion, which they may finish or cancel themself;
 * `restorable by manager`: locked out by their manager's grace period, whose cancel lets them in
 * again, but no deletion of their own to finish.
 */
type Standing = 'active' | 'restorable' | 'restorable by manager' | 'deleted'

// Their own soft deletion outranks their manager's grace period: it is what they may still act on.
const STRICTNESS: Record<Standing, number> = { active: 0, 'restorable by manager': 1, restorable: 2, deleted: 3 }

/**
 * Where a user stands for the lock-out: `active` while the row is not deleted (a request may hold
 * it, but has not locked it yet); a soft deletion (or one being restored) is `restorable`, which a
 * cancel may undo; any other deletion is final. The one place this is decided.
 *
 * The row is read first (one read for an active user who is managed by nobody, the hot path),
 * then, only when it is deleted, the deletion state. A cancel finishing between the two (row read
 * still deleted, state read already cleared) would look like Sunbird's deletion, and "deleted" is
 * cached a day: so a deleted row with no state is read once more (rowAfterState), which then sees
 * the row put back.
 *
 * A managed user (the row names a manager in `managedby`) stands also where their manager's
 * deletion puts them, from the manager's lock on: every deletion that erases the managed users
 * (Sunbird's, a hard one, a grace period that ends in either) locks them out at the same moment as
 * the manager, on every instance, with no write of its own and so no window a crash could leave
 * open. A final deletion of the manager makes them `deleted`; a grace period of the manager makes
 * them `restorable by manager` (its cancel lets them in again; they have no deletion of their own
 * to finish); a soft deletion without a grace period leaves them alone. The stricter of their own standing and that one counts. `follows` is told the
 * manager whose deletion the answer depends on (the lock-out gate forgets the answer when this
 * instance deletes or restores that manager).
 */
export async function lockOutStanding(deps: StandingReads, userId: string, follows?: (managerId: string) => void): Promise<Standing> {
  const user = await deps.users.findUser(userId)
  const own = await standingOfRow(deps, userId, user)
  const managerId = user?.managedBy
  if (own.standing === 'deleted' || !managerId || managerId === userId) return own.standing
  follows?.(managerId)
  const byManager = await standingByManager(deps, managerId)
  return STRICTNESS[byManager] > STRICTNESS[own.standing] ? byManager : own.standing
}

/** A user's own standing from their row (already read) and, when it is deleted, their deletion state. */
async function standingOfRow(deps: ConditionReads, userId: string, user: UserRecord | undefined): Promise<{ standing: Standing; held?: UserDeletionState }> {
  if (!user || !isDeleted(user)) return { standing: 'active' }
  const held = await deps.states.get(userId)
  if (held?.mode === 'soft' || held?.mode === 'restoring') return { standing: 'restorable', held }
  if (held) return { standing: 'deleted', held }
  const again = await deps.users.findUser(userId)
  return { standing: again && isDeleted(again) ? 'deleted' : 'active' }
}

/**
 * Where a manager's deletion puts the users they manage: each final deletion erases them
 * (managedUsers step), so a manager locked by one makes them `deleted`; a soft hold erases them
 * only when it is a grace period's (its request has a schedule), and until then a cancel may put
 * the manager back, so `restorable by manager`; a soft deletion without a grace period never
 * touches them.
 */
async function standingByManager(deps: StandingReads, managerId: string): Promise<Standing> {
  const manager = await standingOfRow(deps, managerId, await deps.users.findUser(managerId))
  if (manager.standing !== 'restorable' || !manager.held) return manager.standing
  const request = await deps.requests.get(manager.held.requestId)
  return request?.schedule ? 'restorable by manager' : 'active'
}
