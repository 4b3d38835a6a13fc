import type { ChildLogger } from '../logging/lazy-child-logger.js'
import type { AnyDialect } from './dialect.js'

/** Per-request values, set once by middleware and read by handlers and the error renderer. */
export type AppEnv = {
  Variables: {
    msgid: string
    /** A little before the request deadline: the moment work past its point of no return answers by (see answerByDeadline). */
    answerBy: Date
    /** Set once a deletion passed its point of no return: the request deadline then leaves the answer ("accepted", due by answerBy) to the handler. */
    pastPointOfNoReturn: boolean
    /** Id of the matched operation (the Sunbird api id, e.g. api.user.delete), or one derived from the path. */
    apiId: string
    /** How the matched operation answers; unset before an operation matched (the service's default dialect then). */
    dialect: AnyDialect
    /** The request's logger: every line it writes carries the msgid. */
    log: ChildLogger
    /** The request body parsed as JSON, not yet validated. */
    body: unknown
    /** The Sunbird err code of an error answer, for the access log. */
    errCode: string
    /** The operation answers credentialed CORS itself: no `Access-Control-Allow-Origin: *` is added. */
    credentialedCors: boolean
    /**
     * The matched operation's own answer headers (its CORS, exposed headers), for an answer given
     * outside its handler: the request deadline's 503, which app.onError renders. Unset for an
     * operation with none.
     */
    answerHeaders: (response: Response) => Response
  }
}
