import type { Context } from 'hono'
import type { JsonSchema } from '../schemas/schema-registry.js'
import type { AppEnv } from './app-env.js'
import type { ErrorCode, ErrorCodeEntry, PlaceholderValues } from './error-codes.js'

/** An error-table entry about to be answered, with its message's placeholders filled in. */
export interface ErrorAnswer {
  code: ErrorCode
  entry: ErrorCodeEntry
  errmsg: string
  /** What the operation still has to say along with the error (the readiness checks of a 503 /ready). */
  result?: Record<string, unknown>
  /** Nothing reads or changes the answer once built (the app's own error road): see jsonAnswer. */
  final?: boolean
}

/** What a dialect needs to know about the operation it answers for. */
export interface AnsweringOperation {
  /** The operation's id (for the Sunbird dialect, the envelope id such as api.user.delete). */
  id: string
  /** 200 unless the operation says otherwise (202 for work that goes on after the answer). */
  successStatus?: 200 | 202
}

/** What the OpenAPI builder hands a dialect to document an operation's answers. */
export interface DocsContext {
  operation: AnsweringOperation & { responseSchema?: string; errorSchemas?: Partial<Record<ErrorCode, string>> }
  schemas: ReadonlyMap<string, JsonSchema>
  /** The configured values the messages name. */
  placeholders: PlaceholderValues
}

type JsonObject = Record<string, unknown>

/** A dialect documents its answers in OpenAPI (Response Objects), so a new dialect is documented by the same builder. */
export interface DialectDocs {
  /** The success Response Object, keyed by status. */
  success(context: DocsContext): Record<string, JsonObject>
  /** The Response Objects of these error-table entries, keyed by status. */
  errors(codes: readonly ErrorCode[], context: DocsContext): Record<string, JsonObject>
  /** Shared components it refers to (components.responses, components.headers), if any. */
  components?(context: Omit<DocsContext, 'operation'>): { responses?: Record<string, JsonObject> }
  /** Extension fields of each Operation Object (e.g. x-sunbird-api-id). */
  operationFields?(context: DocsContext): JsonObject
}

/**
 * How an operation's answers look on the wire: one renderer for its success and one for every
 * entry of the error table, plus their documentation. The Sunbird envelope is one dialect; a REST
 * route answering `{"detail": …}` is another. The renderer of errors sets the entry's status and
 * headers before calling `error`; a dialect chooses only the body (and may add headers).
 */
export interface Dialect<Result> {
  readonly name: string
  success(c: Context<AppEnv>, operation: AnsweringOperation, result: Result): Response
  error(c: Context<AppEnv>, answer: ErrorAnswer): Response
  readonly docs: DialectDocs
}

/** Any dialect, as the error road sees it (it renders errors only). */
export type AnyDialect = Dialect<never>
