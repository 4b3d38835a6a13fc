// `npm test`: the whole suite, from a fresh clone. Installs dependencies if needed, type-checks
// sources and tests, lints and checks formatting (`npm run lint`), then runs every vitest project
// (unit, integration, contract, browser). The integration, contract and browser projects start local
// Cassandra, Keycloak, Kafka and OpenSearch and find or start Redis themselves, once per run; the
// browser project installs Debian's Chromium when it is missing (scripts/ensure-chromium.mjs).
// `--config vitest.cluster.config.ts` (npm run test:cluster) runs the cluster suite instead.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureDependencies, root, run } from './ensure-deps.mjs'

ensureDependencies()
run('tsc', ['-p', 'tsconfig.json', '--noEmit'])
run('npm', ['run', '--silent', 'lint'])

mkdirSync(join(root, '.cache'), { recursive: true })
const report = join(root, '.cache', 'vitest-report.json')
const vitest = spawnSync(join(root, 'node_modules', '.bin', 'vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
})
// One plain closing line any CI can read, whatever the reporter printed above it.
if (existsSync(report)) {
  const { numPassedTests, numFailedTests, numPendingTests } = JSON.parse(readFileSync(report, 'utf8'))
  console.log(`\n${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests} skipped`)
}
process.exit(vitest.status ?? 1)
