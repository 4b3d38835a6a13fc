import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { schemasDir } from './project-root.js'

/**
 * The longest retry delay any instance may be configured with (the maximum schemas/config.json
 * allows DELETION_OWED_RETRY_MAX_MS), read from the schema, its single source. `npm run
 * deletion:resume` takes up every request due within it, so a running service configured with a
 * longer delay than the command's own configuration (or the command with none) has no waiting
 * request it skips.
 */
export const LONGEST_OWED_RETRY_MS: number = longestOwedRetryMs(JSON.parse(readFileSync(join(schemasDir, 'config.json'), 'utf8')))

type Schema = { properties?: Record<string, Schema>; maximum?: unknown }

function longestOwedRetryMs(config: Schema): number {
  const maximum = config.properties?.deletion?.properties?.owedRetry?.properties?.maxMs?.maximum
  if (typeof maximum !== 'number') throw new Error('schemas/config.json: deletion.owedRetry.maxMs has no maximum')
  return maximum
}
