/** What one `npm run bench` does, from the environment (every knob has a default that needs nothing set). */
export interface BenchSettings {
  /** Measured seconds of each fixed-request run (baseline A and the rejection paths). */
  durationSeconds: number
  /** Warm-up seconds before each fixed-request run (same load, not measured). */
  warmupSeconds: number
  /** A and the rejection paths, then B and the full delete, run interleaved this many times (noise hits both sides). */
  rounds: number
  /** Connections for A, the rejection paths and the full delete; workers for baseline B. */
  connections: number
  /** Users deleted (measured) by baseline B and, separately, by the service. */
  deleteUsers: number
  /** Users deleted before each delete measurement, not measured (prepared statements, JIT, pools). */
  deleteWarmupUsers: number
  /** Users deleted by the batch row (jobs of at most 1,000, pace limit off); 0 leaves the row out. */
  batchUsers: number
  soakSeconds: number
  soakWarmupSeconds: number
  /** How long Keycloak is given the admin calls of deletions before the B / full-delete rounds (bench/keycloak-warmup.ts); 0: not at all. */
  keycloakWarmupSeconds: number
  /** After the warm-up, the longest wait for Keycloak's own CPU to settle; 0: no wait. */
  keycloakSettleSeconds: number
  /** Rate of the soak's rejection requests (bounded load, not saturation: the soak is a leak check). */
  soakRate: number
  soakConnections: number
  /** Rate of the soak's deletes of seeded users, on connections of their own. */
  soakDeleteRate: number
  soakDeleteConnections: number
  keyspace: string
  /** The service's LOG_LEVEL during the bench. */
  logLevel: string
  /** Write a V8 CPU profile of the service (node --cpu-prof) into bench/results/profiles/. */
  cpuProfile: boolean
  /** Run the service with --trace-gc and keep the live heap after each full GC (tells heap growth from a leak). */
  traceGc: boolean
}

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min} (got ${JSON.stringify(raw)})`)
  return value
}

export function readSettings(): BenchSettings {
  const durationSeconds = intEnv('BENCH_DURATION_SECONDS', 10, 1)
  const connections = intEnv('BENCH_CONNECTIONS', 50, 1)
  const rounds = intEnv('BENCH_ROUNDS', 2, 1)
  const soakSeconds = intEnv('BENCH_SOAK_SECONDS', 300, 1)
  const soakRate = intEnv('BENCH_SOAK_RATE', 1000, 1)
  const soakDeleteRate = intEnv('BENCH_SOAK_DELETE_RATE', 5, 1)
  const keyspace = process.env.BENCH_KEYSPACE || 'sunbird_bench'
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(keyspace)) throw new Error('BENCH_KEYSPACE must be a plain lower-case CQL identifier')
  if (keyspace === 'sunbird' || keyspace === 'sunbird_test') throw new Error(`BENCH_KEYSPACE ${keyspace} belongs to the demo or the tests; the bench truncates its keyspace`)
  return {
    durationSeconds,
    warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 3, 0),
    rounds,
    connections,
    // Every round deletes at least `connections` users, so each runs at the full concurrency.
    deleteUsers: Math.max(intEnv('BENCH_DELETE_USERS', 1000, 1), connections * rounds),
    deleteWarmupUsers: Math.max(intEnv('BENCH_DELETE_WARMUP_USERS', 100, 0), connections),
    batchUsers: intEnv('BENCH_BATCH_USERS', 10_000, 0),
    soakSeconds,
    keycloakWarmupSeconds: intEnv('BENCH_KEYCLOAK_WARMUP_SECONDS', 90, 0),
    keycloakSettleSeconds: intEnv('BENCH_KEYCLOAK_SETTLE_SECONDS', 120, 0),
    // Long enough for every cache to fill once and for V8 to hand back what the delete phase before
    // it grew (that takes it 30 to 40 s and a few full GCs here) before RSS is read.
    soakWarmupSeconds: intEnv('BENCH_SOAK_WARMUP_SECONDS', Math.min(60, Math.max(10, Math.round(soakSeconds / 5))), 0),
    soakRate,
    // autocannon gives a connection beyond the rate no limit at all: never more connections than req/s.
    soakConnections: Math.min(intEnv('BENCH_SOAK_CONNECTIONS', Math.min(connections, 20), 1), soakRate),
    soakDeleteRate,
    soakDeleteConnections: Math.min(5, soakDeleteRate),
    keyspace,
    logLevel: process.env.BENCH_LOG_LEVEL || 'warn',
    cpuProfile: process.env.BENCH_CPU_PROF === '1',
    traceGc: process.env.BENCH_TRACE_GC !== '0',
  }
}
