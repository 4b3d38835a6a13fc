import type { Context } from 'hono'
import type { CancelDeletionInput } from '../deletion/cancel-deletion.js'
import type { DeletionInput, DeletionOutcome } from '../deletion/delete-account.js'
import type { RequestIdChosenBy } from '../deletion/deletion-request.js'
import type { DeletionStatus } from '../deletion/deletion-status.js'
import type { BatchCancelAnswer, BatchDeadline, BatchStatus } from '../deletion/batch-job.js'
import type { Caller } from '../deletion/caller.js'
import type { ExportUserInput, UserExport } from '../deletion/export-user.js'
import type { SchemaRegistry } from '../schemas/schema-registry.js'
import type { IdempotencyKeyId } from '../shared/idempotency-keys.js'
import type { SchemaId, SchemaTypes } from '../schemas/schema-types.js'
import type { AppEnv } from './app-env.js'
import type { CorsPolicy } from './cors.js'
import type { CredentialScheme, Verifiers } from './credentials/credential-scheme.js'
import type { AnyDialect, Dialect } from './dialect.js'
import { messageIdChosenBy } from './envelope.js'
import type { ErrorCode } from './error-codes.js'
import { beginIdempotent, type IdempotencySettings, type IdempotentOperation, sendsIdempotencyKey } from './idempotency.js'
import { requireRecentLogin } from './step-up.js'
import { validationError } from './validation-error.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface ReadinessCheck {
  name: string
  healthy: boolean
}

/** What the handlers of the operations call: the workflow and the probes, built by the composition root. */
export interface OperationServices {
  /** The deletion engine (src/deletion/delete-account.ts): Sunbird's deletion, soft, hard, grace period, dry run. */
  deleteAccount(input: DeletionInput): Promise<DeletionOutcome>
  /** Undoes a soft deletion (src/deletion/cancel-deletion.ts). */
  cancelDeletion(input: CancelDeletionInput): Promise<{ requestId: string }>
  /** Everything the service holds about a person (src/deletion/export-user.ts). */
  exportUser(input: ExportUserInput): Promise<UserExport>
  /** Records a batch deletion job (src/deletion/batch-job.ts); the runners of every instance work it. */
  submitBatch(input: { caller: Caller; userIds: string[]; mode?: 'soft' | 'hard'; idempotencyKey?: IdempotencyKeyId } & BatchDeadline): Promise<{ jobId: string; total: number }>
  readBatchStatus(input: { caller: Caller; jobId: string; offset: number; limit: number }): Promise<BatchStatus>
  /** Cancels a batch job: no deletion of its users begins once the runners see it. */
  cancelBatch(input: { caller: Caller; jobId: string } & BatchDeadline): Promise<BatchCancelAnswer>
  readDeletionStatus(input: { caller: Caller } & ({ requestId: string } | { userId: string })): Promise<DeletionStatus>
  /** Dependency checks for /ready, each bounded in time by its implementation. */
  checkReadiness(): Promise<ReadinessCheck[]>
}

/** The schemas (by $id in schemas/) an operation's input is validated against. */
export interface RequestSchemas {
  /** The JSON body. */
  readonly body?: SchemaId
  /** The path parameters (`:name` in the paths), as an object of strings. */
  readonly params?: SchemaId
  /** The query parameters, as an object of strings. */
  readonly query?: SchemaId
}

type Validated<Id> = Id extends SchemaId ? SchemaTypes[Id] : undefined

/** A handler's input: each part typed by the schema that validated it, the verified caller, the request id. */
export interface OperationInput<Req extends RequestSchemas, Principal> {
  body: Validated<Req['body']>
  params: Validated<Req['params']>
  query: Validated<Req['query']>
  caller: Principal
  /** The request id (msgid): it also names the deletion request a delete creates. */
  msgid: string
  /** Whose the msgid is: the caller's (its X-Request-Id or X-msgId) or one this service generated. */
  msgidChosenBy: RequestIdChosenBy
  /** When the request deadline passes (its 503 is rendered then); work that cannot be undone answers before it. */
  answerBy?: Date
  /** Called when the work passes its point of no return: from then on the deadline's 503 is never the answer. */
  onCommit?: () => void
  /**
   * The Idempotency-Key this call claimed (an idempotent operation's, when one was sent): an id the
   * work derives from it is the same on a retry with the key, which may follow a failure part way.
   */
  idempotencyKey?: IdempotencyKeyId
}

/**
 * The input's deadline, as a deletion takes it (DeletionInput): every route that deletes passes it on,
 * so that none answers "retry" for a deletion past its point of no return.
 */
export function deadlineOf(input: Pick<OperationInput<RequestSchemas, unknown>, 'answerBy' | 'onCommit'>): { answerBy?: Date; onCommit?: () => void } {
  return { ...(input.answerBy && { answerBy: input.answerBy }), ...(input.onCommit && { onCommit: input.onCommit }) }
}

/**
 * The id a deletion's request is created under, as every route that deletes passes it on: the
 * msgid, and whose it is (an id this service generated is created without a compare-and-set).
 */
export function requestIdOf(input: Pick<OperationInput<RequestSchemas, unknown>, 'msgid' | 'msgidChosenBy'>): { requestId: string; requestIdChosenBy: RequestIdChosenBy } {
  return { requestId: input.msgid, requestIdChosenBy: input.msgidChosenBy }
}

/** Everything about an operation but its handler: what registration, OpenAPI and the tests read. */
export interface OperationMeta {
  /** The operation's id: for the Sunbird dialect its envelope id (api.user.delete); also the OpenAPI operationId's base. */
  readonly id: string
  readonly method: HttpMethod
  /** The public path first, then aliases; `:name` marks a path parameter. */
  readonly paths: readonly [string, ...string[]]
  /** Why the aliases exist, for the API reference (e.g. the service path behind Sunbird's gateway). */
  readonly aliasNote?: string
  readonly summary: string
  /** Longer prose for the API reference (Markdown). */
  readonly description?: string
  /** The API reference's group. */
  readonly tag: 'users' | 'operations'
  readonly credentials: CredentialScheme<unknown>
  readonly request: RequestSchemas
  /**
   * The body limit this operation needs at least (bodyLimitOf), above HTTP_MAX_BODY_BYTES when that
   * is lower: e.g. a batch of 1000 ids of the longest valid form.
   */
  readonly minBodyBytes?: number
  /** The success status: 200, or 202 where the work goes on after the answer (a batch job). */
  readonly successStatus?: 200 | 202
  /** $id of the success answer's schema, when it has a body. */
  readonly responseSchema?: SchemaId
  /** Every error-table entry the operation can answer with. */
  readonly errors: readonly ErrorCode[]
  /** Entries whose body has a schema of its own instead of the dialect's error schema, by code. */
  readonly errorSchemas?: Partial<Record<ErrorCode, SchemaId>>
  readonly dialect: AnyDialect
  readonly cors: CorsPolicy
  /** The `Idempotency-Key` header is honoured: a retry with the same key and request gets the first answer (see idempotency.ts). */
  readonly idempotent?: boolean
  /**
   * The path parameters as the handler reads them, for telling an Idempotency-Key's retry from
   * another request (as sent when absent). Must leave a value already in that form as it is, so a
   * key kept before it still matches its retry.
   */
  readonly sameRequestParams?: IdempotentOperation['sameRequestParams']
  /** The lock-out lets a soft-deleted person's own token through: the one way back in (cancel). */
  readonly admitSoftDeleted?: boolean
  /** The lock-out lets a soft-deleted managed user's token through when their managing parent sends it (X-Authenticated-For): a parent may read what an ORG_ADMIN may. */
  readonly admitSoftDeletedManagedUser?: boolean
  /** Headers every answer of the operation carries, success or error (e.g. `Cache-Control: no-store` on personal data). */
  readonly responseHeaders?: Readonly<Record<string, string>>
  /** Whether the operation may ask for step-up (DELETION_MAX_AUTH_AGE_SECONDS): documented on it. */
  readonly stepUpDocumented?: boolean
  /** A success ends the caller's session, as the credential scheme keeps it (e.g. the session cookie expired): the account is gone. */
  readonly endsSession?: boolean
  /**
   * Which value of a repeated query parameter (`?hard=0&hard=1`) the query schema and the handler
   * see: the first (the default, as hono reads it), or the last, as Django's `QueryDict.get` (Django
   * REST framework's `request.query_params.get`) reads it for the clients of such an API.
   */
  readonly repeatedQueryValue?: 'first' | 'last'
}

/** The largest body an operation reads: HTTP_MAX_BODY_BYTES, or what the operation needs when that is more. */
export function bodyLimitOf(operation: Pick<OperationMeta, 'minBodyBytes'>, configuredBytes: number): number {
  return Math.max(configuredBytes, operation.minBodyBytes ?? 0)
}

/** What a handler is built with, once, at start-up. */
export interface HandlerContext {
  services: OperationServices
  verifiers: Verifiers
  schemas: SchemaRegistry
  idempotency: IdempotencySettings
  /** DELETION_MAX_AUTH_AGE_SECONDS; absent: no step-up (Sunbird's behaviour). */
  maxAuthAgeSeconds?: number
  /** The one error road, for an operation that must keep its error answer (Idempotency-Key). */
  renderError(c: Context<AppEnv>, err: unknown): Response
}

export interface Operation extends OperationMeta {
  /**
   * The operation's last handler (credentials, validation, the work, the answer), compiled once. It
   * throws synchronously when the credentials are refused without waiting.
   */
  createHandler(context: HandlerContext): (c: Context<AppEnv>) => Promise<Response>
}

/** One operation, declared in one place: the fields of OperationMeta, its dialect, and what it does. */
export interface OperationSpec<Req extends RequestSchemas, Principal, Result> extends Omit<OperationMeta, 'credentials' | 'request' | 'dialect'> {
  readonly credentials: CredentialScheme<Principal>
  readonly request: Req
  readonly dialect: Dialect<Result>
  /**
   * When this call needs a recent login (step-up, if DELETION_MAX_AUTH_AGE_SECONDS is set): e.g.
   * every real deletion, but not a dry run. Judged after the input is validated.
   */
  readonly stepUp?: (input: OperationInput<Req, Principal>) => boolean
  /** The work: a few lines that call a service. Throws domain errors or ApiError; never picks a status. */
  handle(input: OperationInput<Req, Principal>, services: OperationServices): Promise<Result>
}

/**
 * Reads and validates one part of the request; the type guard narrows it to the schema's type, so
 * handlers need no cast. A part without a schema is not even read (the rejection path stays cheap).
 */
function validator<Id extends SchemaId | undefined>(schemas: SchemaRegistry, id: Id): (read: () => unknown) => Validated<Id> {
  if (id === undefined) return () => undefined as Validated<Id>
  const validate = schemas.validator<Validated<Id>>(id)
  return (read) => {
    const value = read()
    if (validate(value)) return value
    throw validationError(validate.errors)
  }
}

/** The query parameters, each by its last value when repeated (Django's `QueryDict.get`). */
function lastQueryValues(c: Context<AppEnv>): Record<string, string> {
  // fromEntries defines own properties: a parameter named __proto__ stays a parameter.
  return Object.fromEntries(Object.entries(c.req.queries()).map(([name, values]) => [name, values[values.length - 1] as string]))
}

/** The query parameters, each by its first value when repeated (hono's reading). */
const firstQueryValues = (c: Context<AppEnv>): Record<string, string> => c.req.query()

/**
 * Declares an operation. The returned handler runs, in the contract's order: the credentials (the
 * body was read and parsed before, by readJsonBody), the Idempotency-Key lookup (when the operation
 * is idempotent, and the principal carries no refusal of the lock-out's), the lock-out, then the
 * path, query and body schemas, step-up (when the call asks for it), then `handle`, whose result
 * the dialect renders (after the scheme ends the session, when the operation ends it). Anything
 * thrown goes to the one error road; for a claimed Idempotency-Key the error's answer is rendered
 * here, so it can be kept.
 */
export function defineOperation<const Req extends RequestSchemas, Principal, Result>(spec: OperationSpec<Req, Principal, Result>): Operation {
  return {
    ...spec,
    ...(spec.stepUp && { stepUpDocumented: true }),
    createHandler({ services, verifiers, schemas, idempotency, maxAuthAgeSeconds, renderError }) {
      const body = validator<Req['body']>(schemas, spec.request.body)
      const params = validator<Req['params']>(schemas, spec.request.params)
      const query = validator<Req['query']>(schemas, spec.request.query)
      const queryValues = spec.repeatedQueryValue === 'last' ? lastQueryValues : firstQueryValues
      const { credentials } = spec

      async function run(c: Context<AppEnv>, principal: Principal, idempotencyKey?: IdempotencyKeyId): Promise<Response> {
        const caller = await credentials.lockOut(principal, verifiers, { admitSoftDeleted: spec.admitSoftDeleted === true, admitSoftDeletedManagedUser: spec.admitSoftDeletedManagedUser === true })
        const input: OperationInput<Req, Principal> = {
          params: params(() => c.req.param()),
          query: query(() => queryValues(c)),
          body: body(() => c.get('body')),
          caller,
          msgid: c.get('msgid'),
          msgidChosenBy: messageIdChosenBy(c.get('msgid'), c.req.header('x-request-id'), c.req.header('x-msgid')),
          ...(c.get('answerBy') && { answerBy: c.get('answerBy'), onCommit: () => c.set('pastPointOfNoReturn', true) }),
          ...(idempotencyKey && { idempotencyKey }),
        }
        if (spec.stepUp?.(input)) await requireRecentLogin(credentials.person(caller), maxAuthAgeSeconds, verifiers.sessions)
        const result = await spec.handle(input, services)
        if (spec.endsSession) credentials.endSession?.(c, verifiers)
        return spec.dialect.success(c, spec, result)
      }

      /** The authenticated caller's call: the Idempotency-Key (when the operation takes one), then run. */
      async function authenticated(c: Context<AppEnv>, principal: Principal): Promise<Response> {
        // No key, nothing to look up: run without beginIdempotent's promise. A principal the lock-out
        // refuses whatever it admits runs straight to that refusal: it claims no key and replays none.
        if (!spec.idempotent || !sendsIdempotencyKey(c) || credentials.refusedAtLockOut?.(principal)) return run(c, principal)
        const key = await beginIdempotent(c, idempotency, spec, credentials.idempotencyOwner(principal))
        if (key.kind === 'none') return run(c, principal)
        if (key.kind === 'replay') return key.response
        let response: Response
        try {
          response = await run(c, principal, key.id)
        } catch (err) {
          response = renderError(c, err)
        }
        return key.complete(response)
      }

      return function handleOperation(c) {
        // A refusal decided without waiting (no API bearer, a forged one) is thrown from here, before
        // any promise exists: the error road gets it as it would a rejection, at no promise's cost.
        const principal = credentials.authenticate(c, verifiers)
        return principal instanceof Promise ? principal.then((verified) => authenticated(c, verified)) : authenticated(c, principal)
      }
    },
  }
}
