// `npm start`: the service with everything it needs, from a fresh clone.
//   1. installs dependencies if needed;
//   2. starts local Cassandra, Keycloak and Kafka unless external ones are configured
//      (sunbird_cassandra_host / sunbird_sso_url / kafka_urls set);
//   3. builds, migrates the schema, seeds the demo users, prints working curl commands;
//   4. serves on PORT (default 9000) until Ctrl-C.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ensureDependencies, root, run } from './ensure-deps.mjs'
import { connectionInfo, up } from './services.mjs'

ensureDependencies()

const local = []
if (!process.env.sunbird_cassandra_host) local.push('cassandra')
if (!process.env.sunbird_sso_url) local.push('keycloak')
if (!process.env.kafka_urls) local.push('kafka')
if (local.length) {
  await up(local)
  console.log(connectionInfo(local).join('\n'))
}

run('tsc', ['-p', 'tsconfig.build.json'])
run('tsx', ['scripts/db-migrate.ts'])
run('tsx', ['scripts/db-seed.ts'])
run('tsx', ['scripts/print-quickstart.ts'])

const server = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], { cwd: root, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal))
server.on('exit', (code) => process.exit(code ?? 0))
