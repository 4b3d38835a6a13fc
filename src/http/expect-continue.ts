import type { Server, ServerResponse } from 'node:http'
import type { HttpBindings } from '@hono/node-server'
import type { Context } from 'hono'
import type { AppEnv } from './app-env.js'

/** Answers whose client sent `Expect: 100-continue` and has not been told to go on yet. */
const awaitingContinue = new WeakSet<ServerResponse>()

/**
 * `Expect: 100-continue`: Node answers `100 Continue` at once by default, before any route is
 * chosen, so a client uploads a body its route refuses (over that route's limit) or never reads (a
 * REST DELETE) before it hears the answer. Here the request goes to the app without it, and only a
 * route about to read the body sends it (continueIfAwaited), once the declared length is within that
 * route's own limit. Any other answer is final: Node then closes the connection (the client may or
 * may not send the body it announced), and the client never uploads it.
 */
export function deferContinueToRoutes(server: Server): void {
  server.on('checkContinue', (req, res: ServerResponse) => {
    awaitingContinue.add(res)
    server.emit('request', req, res)
  })
}

/** Tells a client waiting for it to send its body: called by a route right before it reads the body. */
export function continueIfAwaited(c: Context<AppEnv>): void {
  // Unset outside a Node server (app.request in tests): no client is waiting there.
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing
  if (outgoing && awaitingContinue.delete(outgoing)) outgoing.writeContinue()
}
