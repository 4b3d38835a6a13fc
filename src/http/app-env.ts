import type { Caller } from '../deletion/caller.js'
import type { Logger } from '../logging/logger.js'

/** Per-request values, set once by middleware and read by handlers and the error renderer. */
export type AppEnv = {
  Variables: {
    msgid: string
    /** Sunbird api id of the matched operation, e.g. api.user.delete. */
    apiId: string
    log: Logger
    body: unknown
    caller: Caller
    /** The Sunbird err code of an error answer, for the access log. */
    errCode: string
  }
}
