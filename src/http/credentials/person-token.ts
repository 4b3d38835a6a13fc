import { type Credential, InvalidCredentialsError, refusalText } from '../../auth/auth-errors.js'
import type { Caller } from '../../deletion/caller.js'
import { ApiError } from '../api-error.js'
import type { LoginFacts } from '../step-up.js'
import type { LockOutOptions, Verifiers } from './credential-scheme.js'

/**
 * What every scheme that carries a person's Keycloak token shares, wherever the token travels
 * (X-Authenticated-User-token, Authorization, a session cookie): its verification into a Caller,
 * the managed user of X-Authenticated-For, the lock-out, and the login step-up judges.
 */

/**
 * The person of a verified user token, acting through `consumer` (the gateway consumer, or the
 * scheme's own name when there is none). A scheme that takes the person's token alone (`direct`)
 * accepts only a token issued to one of USER_TOKEN_DIRECT_CLIENTS, when that is set: with no
 * gateway JWT beside it, a token the realm issued to another of its clients is not this service's.
 */
export async function personCaller(token: string, consumer: string, verifiers: Verifiers, { direct = false }: { direct?: boolean } = {}): Promise<Caller> {
  const user = await verifiers.userTokens.verify(token, 'user-token')
  const clients = verifiers.directTokenClients
  if (direct && clients.length > 0 && (user.clientId === undefined || !clients.includes(user.clientId)))
    throw new InvalidCredentialsError('user-token', 'client (azp) not in USER_TOKEN_DIRECT_CLIENTS')
  return {
    consumer,
    userId: user.userId,
    roles: user.roles,
    ...(user.authTime !== undefined && { authTime: user.authTime }),
    ...(user.sessionId !== undefined && { sessionId: user.sessionId }),
  }
}

/**
 * A person's caller as a scheme hands it to the lock-out: it may carry the refusal of the managed
 * user's token sent beside the person's (X-Authenticated-For), which the lock-out tells only once it
 * has judged the person (lockOutPerson). The reason (refusalText) is for the log only.
 */
export interface PersonPrincipal extends Caller {
  managedUserRefusal?: string
}

/** Whether the lock-out refuses this caller whatever the operation admits: a refusal it carries (CredentialScheme.refusedAtLockOut). */
export function carriesRefusal(caller: PersonPrincipal): boolean {
  return caller.managedUserRefusal !== undefined
}

/** A managing parent acting for their managed user: X-Authenticated-For's token, verified, its `parentId` required. */
export async function withManagedUser(caller: Caller, forToken: string | undefined, verifiers: Verifiers): Promise<Caller> {
  const token = forToken?.trim()
  if (!token) return caller
  const managed = await verifiers.userTokens.verify(token, 'for-token')
  if (!managed.parentId) throw new InvalidCredentialsError('for-token', 'no parentId')
  return { ...caller, managedUser: { userId: managed.userId, parentId: managed.parentId } }
}

/**
 * A deleted person's still-valid token is refused like a forged one: deletion locks the person
 * out at once, not when their token expires. A soft-deleted person is let in where the operation
 * admits them (marked `softDeleted`). A managed user's token sent by their managing parent
 * (X-Authenticated-For) is the parent's means to act for them, not the managed user's login: while
 * the managed user's own deletion is restorable (soft) it is let in where a soft-deleted person is
 * (cancel, finishing the deletion), and by the parent it names where the operation admits that
 * (export, status); refused once they are deleted for good or locked out by their manager's grace
 * period, and on Sunbird's own delete route (its answer stays as it was). That refusal, and one the
 * caller carries (a managed user's token that did not verify), is the 401 of the error table unless
 * the scheme answers it otherwise (`refuseManagedUser`); either is told only after the person is
 * judged with the operation's options, so a person the operation locks out gets their own lock-out
 * answer whatever they send beside their token.
 */
export async function lockOutPerson(
  caller: PersonPrincipal,
  verifiers: Verifiers,
  { admitSoftDeleted, admitSoftDeletedManagedUser = false }: LockOutOptions,
  refuseManagedUser: (reason: string) => ApiError = unauthorized,
): Promise<Caller> {
  // Refused as refusedAsUnauthorized would refuse, without wrapping the check in a second async function.
  const standing = await verifiers.deletedUsers.standing(caller.userId)
  const admitted = standing === 'restorable' && admitSoftDeleted
  if (standing !== 'active' && !admitted) throw unauthorized(refusalText('user-token', 'user is deleted'))
  if (caller.managedUserRefusal !== undefined) throw refuseManagedUser(caller.managedUserRefusal)
  if (caller.managedUser) {
    const child = await verifiers.deletedUsers.standing(caller.managedUser.userId)
    const parentActs = caller.managedUser.parentId === caller.userId
    const childAdmitted = child === 'restorable' && (admitSoftDeleted || (admitSoftDeletedManagedUser && parentActs))
    if (child !== 'active' && !childAdmitted) throw refuseManagedUser(refusalText('for-token', 'user is deleted'))
  }
  // What this operation admits goes with the caller: a deletion landing while the call runs is judged by it (lockedOutBy).
  return { ...caller, ...(admitted && { softDeleted: true }), ...(!admitSoftDeleted && { softDeletedRefused: true }) }
}

/** The login of the caller, for step-up. */
export function loginOf(caller: Caller): LoginFacts {
  return { userId: caller.userId, ...(caller.authTime !== undefined && { authTime: caller.authTime }), ...(caller.sessionId !== undefined && { sessionId: caller.sessionId }) }
}

/** The one 401 of the error table for a credential failure; the reason (refusalText) goes to the log only. */
function unauthorized(reason: string): ApiError {
  return new ApiError('UNAUTHORIZED', { reason })
}

/** Any credential failure is the one 401 of the error table; the reason goes to the log only. */
export async function refusedAsUnauthorized<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check()
  } catch (err) {
    if (err instanceof InvalidCredentialsError) throw unauthorized(err.message)
    throw err
  }
}

/** The refusals decided without waiting, one frozen error each: the reasons are a few constants. */
const refusals = new Map<string, ApiError>()
const MAX_KEPT_REFUSALS = 64

/**
 * unauthorized() for a refusal decided without waiting (no API bearer or a forged one, no user token), made once
 * per reason and frozen: it carries nothing of the request, and making an Error is a sizeable share of a refusal.
 */
export function refusedCredential(credential: Credential, reason: string): ApiError {
  const text = refusalText(credential, reason)
  let refusal = refusals.get(text)
  if (refusal === undefined) {
    refusal = unauthorized(text)
    Object.freeze(refusal.headers)
    Object.freeze(refusal)
    if (refusals.size < MAX_KEPT_REFUSALS) refusals.set(text, refusal)
  }
  return refusal
}
