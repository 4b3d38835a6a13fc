import { AsyncLocalStorage } from 'node:async_hooks'

/** Fields every log line written on behalf of one request carries (today: its msgid). */
export interface LogContext {
  msgid: string
}

// Async-local, not a logger child: lines written by code that only holds the root logger (the
// composition root, work that outlives the response) still name the request they belong to.
const storage = new AsyncLocalStorage<LogContext>()

export function runWithLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run(context, fn)
}

/**
 * The fields of the request being served, or none outside a request. Always a fresh object: pino
 * merges each line's own fields into what the mixin returns, so returning the stored context
 * itself would carry one line's fields into every later line of the request.
 */
export function currentLogContext(): Partial<LogContext> {
  const context = storage.getStore()
  return context ? { msgid: context.msgid } : {}
}
