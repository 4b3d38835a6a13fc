import { loadConfig } from '../src/config/load-config.js'
import { runWithoutArguments } from './lib/operator-command.js'
import { exitAfterFlush } from './lib/exit-after-flush.js'
import { migrateConfiguredSearch } from './lib/search-migrate.js'

// `npm run search:migrate`: only Sunbird's search indexes (userv3 behind user_alias, usernotes).
// Exit 0 done, 1 stopped (one line on stderr), 2 an argument given (see OPERATOR_EXIT).
const code = await runWithoutArguments('search:migrate', process.argv.slice(2), () => migrateConfiguredSearch(loadConfig().search, (line) => console.log(line)))
exitAfterFlush(code)
