// `BENCH_CLUSTER=1 npm run bench`: deletions per second with one service instance, then with two,
// on the same 3-node Cassandra and 3-broker Kafka (started like `npm run test:cluster` does), the
// same total number of deletions in flight. Shows that the instances do not take turns on a shared
// partition (the audit trail is one chain per instance). See README.md, "Scaling out".
import type { Client } from 'cassandra-driver'
import { up } from '../scripts/services.mjs'
import { loadConfig } from '../src/config/load-config.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { clusterEnv, CLUSTER_REPLICATION, CLUSTER_SIZE } from '../test/cluster/support/cluster-env.js'
import { deleteAll, percentile } from '../test/cluster/support/deletion-load.js'
import { INSTANCE_START_BUDGET_MS, waitReady } from '../test/cluster/support/instances.js'
import { startContractServer, type ContractServer } from '../test/support/contract-server.js'
import { buildServer, freePort } from '../test/support/spawned-server.js'
import { createRealmKeys } from '../test/support/user-tokens.js'
import { prepareKeyspace, seedUsers } from './fixtures.js'

const log = (line: string) => process.stderr.write(`[bench:cluster] ${line}\n`)

export interface ScalingRun {
  instances: number
  deletions: number
  seconds: number
  perSecond: number
  p50Ms: number
  p99Ms: number
  statuses: Record<string, number>
  /** Audit chains the run's records went to (one per instance). */
  auditChains: number
}

/** Latency of one query, run `times` times one after another (a seeded user's id as the value). */
export interface QueryCost {
  query: string
  reach: 'one partition' | 'every node (secondary index)'
  p50Ms: number
  p99Ms: number
}

/** What a single-partition read costs on the cluster against each secondary-index read on the deletion path, for the same user. */
async function measureQueryCosts(db: Client, keyspace: string, userId: string, times = 200): Promise<QueryCost[]> {
  const ks = keyspace
  const queries: [string, QueryCost['reach'], unknown[]][] = [
    [`SELECT id, status, isdeleted, rootorgid, managedby FROM ${ks}.user WHERE id = ?`, 'one partition', [userId]],
    [`SELECT role FROM ${ks}.user_roles WHERE userid = ?`, 'one partition', [userId]],
    [`SELECT type, value FROM ${ks}.user_lookup WHERE userid = ?`, 'every node (secondary index)', [userId]],
    [`SELECT provider, idtype, externalid FROM ${ks}.usr_external_identity WHERE userid = ?`, 'every node (secondary index)', [userId]],
    [`SELECT id FROM ${ks}.user WHERE managedby = ?`, 'every node (secondary index)', [userId]],
    [`SELECT userid, scope FROM ${ks}.user_roles WHERE role = ?`, 'every node (secondary index)', ['ORG_ADMIN']],
    [`SELECT id FROM ${ks}.user_deletion_request WHERE userid = ?`, 'every node (secondary index)', [userId]],
  ]
  const costs: QueryCost[] = []
  for (const [query, reach, params] of queries) {
    const ms: number[] = []
    for (let i = 0; i < times; i++) {
      const started = performance.now()
      await db.execute(query, params, { prepare: true })
      ms.push(performance.now() - started)
    }
    costs.push({ query: query.replace(`${ks}.`, ''), reach, p50Ms: Math.round(percentile(ms, 50) * 10) / 10, p99Ms: Math.round(percentile(ms, 99) * 10) / 10 })
  }
  return costs
}

/** The head (highest sequence number) of every audit chain. */
async function chainHeads(db: Client, keyspace: string): Promise<Map<string, number>> {
  const rows = (await db.execute(`SELECT chain, max(seq) AS head FROM ${keyspace}.user_deletion_audit GROUP BY chain`)).rows
  return new Map(rows.map((row) => [row.get('chain') as string, Number(row.get('head'))]))
}

/** How many chains grew between two readings. */
function chainsGrown(before: Map<string, number>, after: Map<string, number>): number {
  return [...after].filter(([chain, head]) => head > (before.get(chain) ?? 0)).length
}

export async function runClusterScaling(options: { keyspace: string; deletions: number; inFlight: number }): Promise<{ runs: ScalingRun[]; queryCosts: QueryCost[] }> {
  Object.assign(process.env, clusterEnv())
  await up(['cassandra', 'kafka', 'keycloak'], { cassandraNodes: CLUSTER_SIZE, kafkaBrokers: CLUSTER_SIZE, log })
  log('building the service (tsc -p tsconfig.build.json)')
  buildServer()
  const config = loadConfig({ cassandra: { keyspace: options.keyspace, replication: CLUSTER_REPLICATION }, logging: { level: 'silent' } })
  const db = createCassandraClient(config.cassandra, { keyspace: false })
  await db.connect()
  const keys = createRealmKeys('bench-cluster-kid')
  const runs: ScalingRun[] = []
  let servers: ContractServer[] = []
  try {
    log(`keyspace ${options.keyspace} (replication ${JSON.stringify(CLUSTER_REPLICATION)}): migrating and truncating`)
    await prepareKeyspace(config.cassandra, db)
    const env = { ...clusterEnv(), CASSANDRA_KEYSPACE: options.keyspace, NODE_ENV: 'production' }
    // A generous start budget: on a loaded machine an instance beside the clusters takes more than 20 s.
    const start = async () => startContractServer({ env, keys, port: await freePort(), startTimeoutMs: INSTANCE_START_BUDGET_MS })
    servers = [await start(), await start()]
    await Promise.all(servers.map((server) => waitReady(server)))
    for (const count of [1, 2, 1, 2]) {
      const ids = await seedUsers(db, options.keyspace, options.deletions)
      const before = await chainHeads(db, options.keyspace)
      const started = performance.now()
      const sent = await deleteAll(
        servers.slice(0, count),
        ids.map((id) => ({ id })),
        { inFlight: options.inFlight, requestIdPrefix: `bench-${count}` },
      )
      const seconds = (performance.now() - started) / 1000
      const statuses: Record<string, number> = {}
      for (const one of sent) statuses[one.status] = (statuses[one.status] ?? 0) + 1
      const ms = sent.map((one) => one.ms)
      const run = {
        instances: count,
        deletions: sent.length,
        seconds: Math.round(seconds * 10) / 10,
        perSecond: Math.round((sent.length / seconds) * 10) / 10,
        p50Ms: Math.round(percentile(ms, 50)),
        p99Ms: Math.round(percentile(ms, 99)),
        statuses,
        auditChains: chainsGrown(before, await chainHeads(db, options.keyspace)),
      }
      log(JSON.stringify(run))
      runs.push(run)
    }
    const [probe] = await seedUsers(db, options.keyspace, 1)
    const queryCosts = await measureQueryCosts(db, options.keyspace, probe as string)
    for (const cost of queryCosts) log(JSON.stringify(cost))
    return { runs, queryCosts }
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
    await db.shutdown()
  }
}

/** The table for bench/README.md: the best of the rounds of each instance count, and the ratio. */
export function renderScaling(runs: ScalingRun[], queryCosts: QueryCost[]): string {
  const best = (n: number) => runs.filter((run) => run.instances === n).sort((x, y) => y.perSecond - x.perSecond)[0]
  const one = best(1)
  const two = best(2)
  const lines = ['| Instances | Deletions | Seconds | Deletions/s | p50 ms | p99 ms | Answers | Audit chains written |', '|---|---|---|---|---|---|---|---|']
  for (const run of runs) lines.push(`| ${run.instances} | ${run.deletions} | ${run.seconds} | ${run.perSecond} | ${run.p50Ms} | ${run.p99Ms} | ${JSON.stringify(run.statuses)} | ${run.auditChains} |`)
  if (one && two) lines.push('', `Two instances against one (best round of each): ${(two.perSecond / one.perSecond).toFixed(2)} ×.`)
  lines.push('', '| Query (one after another, 200 times) | Reaches | p50 ms | p99 ms |', '|---|---|---|---|')
  for (const cost of queryCosts) lines.push(`| \`${cost.query}\` | ${cost.reach} | ${cost.p50Ms} | ${cost.p99Ms} |`)
  return lines.join('\n')
}
