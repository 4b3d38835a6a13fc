import type { Server, ServerOptions } from 'node:http'
import type { Config } from '../config/config.js'

/**
 * How often Node looks for connections past headersTimeout or requestTimeout. Node's default is
 * 30 s, which is why a client sending its headers a byte a second held a connection for about
 * 85 s; at 500 ms a slow client is cut within half a second of its deadline.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500

export type HttpLimits = Pick<Config['http'], 'headersTimeoutMs' | 'receiveTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'>

/**
 * The Node server options that bound what a slow or greedy client can hold. A client that has not
 * sent its headers by headersTimeout, or its whole request (the body read deadline) by
 * requestTimeout, gets Node's `408 Request Timeout` and the connection is closed; an idle
 * kept-alive connection is closed after keepAliveTimeout.
 */
export function httpServerOptions(limits: HttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.receiveTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  }
}

/** What the options cannot carry: the cap on connections per process (Node closes any beyond it on accept). */
export function applyConnectionLimits(server: Server, limits: HttpLimits): void {
  server.maxConnections = limits.maxConnections
  // Set again as properties: keepAliveTimeout is honoured as a constructor option only on newer Node lines.
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  server.headersTimeout = limits.headersTimeoutMs
  server.requestTimeout = limits.receiveTimeoutMs
}
