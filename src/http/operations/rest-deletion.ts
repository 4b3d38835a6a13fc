import type { DeletionOutcome } from '../../deletion/delete-account.js'
import type { DeletionAnswer } from '../dialects/rest-dialect.js'
import type { ErrorCode } from '../error-codes.js'

/** Every entry a REST deletion route of a person may answer with (a body declared over the limit, the engine's refusals, the credentials', step-up, Idempotency-Key). */
export const PERSON_DELETION_ERRORS = [
  'PAYLOAD_TOO_LARGE',
  'IDEMPOTENCY_KEY_INVALID',
  'UNAUTHORIZED',
  'STEP_UP_REQUIRED',
  'FORBIDDEN',
  'ROLE_RESTRICTED',
  'USER_NOT_FOUND',
  'DELETION_LIMIT_REACHED',
  'IDEMPOTENCY_KEY_IN_FLIGHT',
  'IDEMPOTENCY_KEY_REUSED',
  'SERVICE_UNAVAILABLE',
  'SERVER_ERROR',
] as const satisfies readonly ErrorCode[]

/**
 * What a REST route that deletes only the caller's own account may answer: the person routes' list
 * but the mass-deletion guard's 429, which self-deletion never meets (mass-deletion-guard.ts).
 */
export const OWN_ACCOUNT_DELETION_ERRORS: readonly ErrorCode[] = PERSON_DELETION_ERRORS.filter((code) => code !== 'DELETION_LIMIT_REACHED')

/** The `f:<provider>:` prefix of a federated id (Keycloak's subject form), kept as sent. */
const FEDERATED_PREFIX = /^f:[^:]+:/

/**
 * The user id a REST route's path names, as the stores hold it: the UUID's hex digits in lower case,
 * as Sunbird and Keycloak write them. The params schemas accept upper-case hex digits too, and the
 * stores compare ids exactly, where the seeds' own stores (a Postgres uuid column) read either case
 * as the same user. Anything else (dashes, the prefix of a federated id) is kept as sent. Taken
 * before anything reads the id: authorization, the self check, the deletion and the request that
 * X-Request-Id names all see the same user.
 */
export function storedUserId(pathId: string): string {
  const prefix = FEDERATED_PREFIX.exec(pathId)?.[0] ?? ''
  return prefix + pathId.slice(prefix.length).replace(/[A-F]/g, (digit) => digit.toLowerCase())
}

/**
 * A REST route's path parameters (its one user id) as the route reads them: an Idempotency-Key's
 * retry that names the same user in another case is the same request, not another one (422).
 */
export function storedUserIdParams(params: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, storedUserId(value)]))
}

/** The durable request a deletion ran (or scheduled), for X-Request-Id. */
export function answerOf(outcome: DeletionOutcome, msgid: string): DeletionAnswer {
  return { requestId: 'requestId' in outcome ? outcome.requestId : msgid }
}
