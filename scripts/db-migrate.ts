import { loadConfig } from '../src/config/load-config.js'
import { migrate } from '../src/store/migrations.js'
import { runWithoutArguments } from './lib/operator-command.js'
import { exitAfterFlush } from './lib/exit-after-flush.js'
import { migrateConfiguredSearch } from './lib/search-migrate.js'

// `npm run db:migrate`: keyspace and tables on the configured Cassandra (sunbird_cassandra_host/port),
// then Sunbird's search indexes when sunbird_es_host is set. Exit 0 done, 1 stopped (one line on
// stderr), 2 an argument given (see OPERATOR_EXIT).
const code = await runWithoutArguments('db:migrate', process.argv.slice(2), async () => {
  const config = loadConfig()
  const ran = await migrate(config.cassandra, (line) => console.log(line))
  console.log(ran.length ? `schema of keyspace ${config.cassandra.keyspace} is current (applied ${ran.join(', ')})` : `schema of keyspace ${config.cassandra.keyspace} was already current`)
  await migrateConfiguredSearch(config.search, (line) => console.log(line))
})
exitAfterFlush(code)
