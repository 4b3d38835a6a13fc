// `npm start`: the service with everything it needs, from a fresh clone.
//   1. installs dependencies if needed;
//   2. starts local Cassandra, Keycloak, Kafka, OpenSearch and finds or starts Redis, unless
//      external ones are configured (sunbird_cassandra_host / sunbird_sso_url / kafka_urls /
//      sunbird_es_host / sunbird_redis_host set), and points the service at the local ones;
//   3. builds, migrates the schema and the search indexes, seeds the demo users, prints working curl commands;
//   4. serves on PORT (default 9000) until Ctrl-C.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { ensureDependencies, root, run } from './ensure-deps.mjs'
import { connectionInfo, getConfig, up } from './services.mjs'

ensureDependencies()

// Before anything is started or re-seeded: a second `npm start` would otherwise reset the demo
// users and print tokens for a server it never runs.
const port = Number(process.env.PORT ?? 9000)
const host = process.env.HOST ?? '0.0.0.0'
const portFree = await new Promise((resolve) => {
  const probe = createServer()
  probe.once('error', (err) => resolve(err.code !== 'EADDRINUSE'))
  probe.listen(port, host, () => probe.close(() => resolve(true)))
})
if (!portFree) {
  console.error(`npm start: port ${port} is already in use (is the service running already?): stop that process, or set PORT to another port`)
  process.exit(1)
}

const local = []
if (!process.env.sunbird_cassandra_host) local.push('cassandra')
if (!process.env.sunbird_sso_url) local.push('keycloak')
if (!process.env.kafka_urls) local.push('kafka')
if (!process.env.sunbird_es_host) local.push('opensearch')
if (!process.env.sunbird_redis_host) local.push('redis')
if (local.length) {
  await up(local)
  console.log(connectionInfo(local).join('\n'))
}
// The service (and db:migrate) read Sunbird's variables: point those not set at the local servers.
const services = getConfig()
const hosts = (n) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`)
const localEnv = {
  cassandra: { sunbird_cassandra_host: hosts(services.cassandra.nodes).join(','), sunbird_cassandra_port: String(services.cassandra.port) },
  kafka: {
    kafka_urls: hosts(services.kafka.brokers)
      .map((h) => `${h}:${services.kafka.port}`)
      .join(','),
  },
  opensearch: { sunbird_es_host: '127.0.0.1', sunbird_es_port: String(services.opensearch.port) },
  redis: { sunbird_redis_host: services.redis.host, sunbird_redis_port: String(services.redis.port) },
}
for (const name of local) Object.assign(process.env, localEnv[name] ?? {})
// A local Cassandra cluster (CASSANDRA_NODES=3) gets its keyspace replicated on every node, up to 3.
if (local.includes('cassandra') && services.cassandra.nodes > 1 && !process.env.CASSANDRA_REPLICATION) {
  process.env.CASSANDRA_REPLICATION = JSON.stringify({ class: 'NetworkTopologyStrategy', datacenter1: Math.min(3, services.cassandra.nodes) })
}

run('tsc', ['-p', 'tsconfig.build.json'])
run('tsx', ['scripts/db-migrate.ts'])
run('tsx', ['scripts/db-seed.ts'])
run('tsx', ['scripts/print-quickstart.ts'])

const server = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], { cwd: root, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal))
server.on('exit', (code) => process.exit(code ?? 0))
