import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startNode, stopNode } from '../../../scripts/services.mjs'
import sharedSetup from '../../support/global-setup.js'

/**
 * The shared single-node servers (reused when up) and the tests' schema, then one more thing the
 * fault suite relies on: Cassandra acknowledges a write only once it is on disk (commitlog_sync:
 * group, see scripts/services/cassandra.mjs). A node started by an older script still runs with
 * periodic sync, so it is restarted once to take the current configuration.
 */
export default async function setup(project: TestProject): Promise<void> {
  // As vitest.faults.config.ts: starts on a loaded machine are waited for, not cut off.
  process.env.SERVICES_START_BUDGET_MS ??= '600000'
  await sharedSetup(project)
  // Where scripts/services keeps its run folders (its getConfig's rule).
  const env = process.env
  const runDir = resolve(env.SERVICES_RUN_DIR || (env.SERVICES_DIR ? join(resolve(env.SERVICES_DIR), 'run') : join('.cache', 'run')))
  let yaml = ''
  try {
    yaml = readFileSync(join(runDir, 'cassandra', 'conf', 'cassandra.yaml'), 'utf8')
  } catch {
    // Laid out differently: the restart below writes the current configuration anyway.
  }
  if (!/^commitlog_sync: group$/m.test(yaml)) {
    process.stderr.write('cassandra: restarting once to take commitlog_sync: group\n')
    await stopNode('cassandra', 1)
    await startNode('cassandra', 1)
  }
}
