import type { Context } from 'hono'
import type { AppEnv } from './app-env.js'
import { isFinalJsonAnswer } from './final-json-answer.js'

const ALLOW_ORIGIN = 'Access-Control-Allow-Origin'

/**
 * Sunbird's gateway sends `Access-Control-Allow-Origin: *` on every answer; an operation with a
 * CORS policy of its own (credentialed) sets it itself. Added once the answer is final.
 */
export function addGatewayCors(c: Context<AppEnv>): void {
  if (isFinalJsonAnswer(c.res) || c.get('credentialedCors') || c.res.headers.has(ALLOW_ORIGIN)) return
  c.res.headers.set(ALLOW_ORIGIN, '*')
}
