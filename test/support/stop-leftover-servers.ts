import { afterAll } from 'vitest'
import { stopLeftoverServers } from './spawned-server.js'

// After each test file: a built server it started and never stopped (a failing assertion skipped
// its stop) is killed, so it cannot go on sweeping and auditing in the tests' keyspace during the
// files after it, or in the next suite's Cassandra on the same port.
afterAll(() => stopLeftoverServers())
