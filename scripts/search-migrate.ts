import { loadConfig } from '../src/config/load-config.js'
import { migrateConfiguredSearch } from './lib/search-migrate.js'

// `npm run search:migrate`: only Sunbird's search indexes (userv3 behind user_alias, usernotes).
await migrateConfiguredSearch(loadConfig().search, (line) => console.log(line))
