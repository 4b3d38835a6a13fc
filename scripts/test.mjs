// `npm test`: the whole suite, from a fresh clone. Installs dependencies if needed, type-checks
// sources and tests, then runs every vitest project (unit, integration, contract). The
// integration and contract projects start local Cassandra and Keycloak themselves, once per run.
import { ensureDependencies, run } from './ensure-deps.mjs'

ensureDependencies()
run('tsc', ['-p', 'tsconfig.json', '--noEmit'])
run('vitest', ['run', ...process.argv.slice(2)])
