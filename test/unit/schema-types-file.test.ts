import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderSchemaTypes, schemaTypesFile } from '../../scripts/lib/schema-types.js'
import { projectRoot } from '../../src/config/project-root.js'

describe('the generated schema types', () => {
  it('when schemas/ change, then src/schemas/schema-types.ts has been regenerated with them (npm run schemas:types)', async () => {
    const committed = readFileSync(join(projectRoot, schemaTypesFile), 'utf8')

    const built = await renderSchemaTypes()

    expect(committed, 'src/schemas/schema-types.ts is stale: run `npm run schemas:types` and commit the result').toBe(built)
  })
})
