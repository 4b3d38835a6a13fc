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
import { pathToFileURL } from 'node:url'
import { ensureDependencies, root, run } from './ensure-deps.mjs'
import { connectionInfo, getConfig, up } from './services.mjs'

ensureDependencies()

const local = []
if (!process.env.sunbird_cassandra_host) local.push('cassandra')
if (!process.env.sunbird_sso_url) local.push('keycloak')
if (!process.env.kafka_urls) local.push('kafka')
if (!process.env.sunbird_es_host) local.push('opensearch')
if (!process.env.sunbird_redis_host) local.push('redis')
if (local.length) {
  // A setting the local servers cannot start with (a port clash, PORT not a port) is one message, not a stack trace.
  await up(local).catch((err) => {
    console.error(`npm start: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
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

// Before the demo users are re-seeded: a second `npm start` would reset them and print tokens for a
// server it never runs. The port and host the service will listen on, as its configuration says (a
// configuration it refuses is refused here the same way, in one line).
const { loadConfig, orExitOnConfigError } = await import(pathToFileURL(join(root, 'dist', 'src', 'config', 'load-config.js')).href)
const { http } = orExitOnConfigError(() => loadConfig())
if (!(await portFree(http.port, http.host))) {
  console.error(`npm start: port ${http.port} is already in use (is the service running already?): stop that process, or set PORT to another port`)
  process.exit(1)
}
run('tsx', ['scripts/db-migrate.ts'])
run('tsx', ['scripts/db-seed.ts'])
run('tsx', ['scripts/print-quickstart.ts'])

const server = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], { cwd: root, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal))
server.on('exit', (code) => process.exit(code ?? 0))

/** Whether nothing listens on the port yet (bound and released at once); any other refusal is the service's to report. */
function portFree(port, host) {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', (err) => resolve(err.code !== 'EADDRINUSE'))
    try {
      probe.listen(port, host, () => probe.close(() => resolve(true)))
    } catch {
      resolve(true)
    }
  })
}
