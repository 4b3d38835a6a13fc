import { Client, auth, policies, types } from 'cassandra-driver'
import type { Config } from '../config/config.js'

/**
 * One driver client for the process. Prepared statements everywhere (correct type mapping, token
 * routing), LOCAL_QUORUM reads and writes, LOCAL_SERIAL for lightweight transactions, and socket
 * timeouts that sit below the request deadline so a slow node yields a 503 rather than a hang.
 */
export function createCassandraClient(config: Config['cassandra'], options: { keyspace?: boolean } = {}): Client {
  return new Client({
    contactPoints: [...config.hosts],
    localDataCenter: config.localDataCenter,
    protocolOptions: { port: config.port },
    ...(options.keyspace === false ? {} : { keyspace: config.keyspace }),
    ...(config.username ? { authProvider: new auth.PlainTextAuthProvider(config.username, config.password ?? '') } : {}),
    socketOptions: { connectTimeout: config.connectTimeoutMs, readTimeout: config.readTimeoutMs },
    pooling: { warmup: true },
    policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(500, 10_000, false) },
    queryOptions: {
      prepare: true,
      consistency: types.consistencies.localQuorum,
      serialConsistency: types.consistencies.localSerial,
    },
  })
}
