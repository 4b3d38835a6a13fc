import type { Bindings, LogFn } from 'pino'
import type { Logger } from './logger.js'

/** What a request's code writes with: the levels it logs at, and whether a level is on. */
export type ChildLogger = Pick<Logger, 'info' | 'warn' | 'error' | 'isLevelEnabled'>

/**
 * `logger.child(bindings)`, made on its first line: most requests write none (below LOG_LEVEL=info,
 * only errors), and pino's child() serializes its bindings when it is made. The lines written are
 * the child's own, so they read as `logger.child(bindings)`'s would.
 */
export function lazyChildLogger(logger: Logger, bindings: Bindings): ChildLogger {
  let child: Logger | undefined
  const made = () => {
    child ??= logger.child(bindings)
    return child
  }
  return {
    info: ((...args: Parameters<LogFn>) => made().info(...args)) as LogFn,
    warn: ((...args: Parameters<LogFn>) => made().warn(...args)) as LogFn,
    error: ((...args: Parameters<LogFn>) => made().error(...args)) as LogFn,
    // A child has its parent's level: asking needs no child.
    isLevelEnabled: (level) => (child ?? logger).isLevelEnabled(level),
  }
}
