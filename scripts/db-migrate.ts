import { loadConfig } from '../src/config/load-config.js'
import { migrate } from '../src/store/migrations.js'
import { migrateConfiguredSearch } from './lib/search-migrate.js'

// `npm run db:migrate`: keyspace and tables on the configured Cassandra (sunbird_cassandra_host/port),
// then Sunbird's search indexes when sunbird_es_host is set.
const config = loadConfig()
const ran = await migrate(config.cassandra, (line) => console.log(line))
console.log(ran.length ? `schema of keyspace ${config.cassandra.keyspace} is current (applied ${ran.join(', ')})` : `schema of keyspace ${config.cassandra.keyspace} was already current`)
await migrateConfiguredSearch(config.search, (line) => console.log(line))
