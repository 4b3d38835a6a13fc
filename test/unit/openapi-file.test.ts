import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { openApiFile, renderOpenApiFile } from '../../scripts/lib/openapi-file.js'

describe('the committed openapi.json', () => {
  it('when schemas/, the routes or the error table change, then openapi.json has been regenerated with them (npm run openapi)', () => {
    // Arrange
    const committed = readFileSync(openApiFile, 'utf8')

    // Act
    const built = renderOpenApiFile()

    // Assert: a plain equality, so the diff vitest prints shows what is stale.
    expect(committed, 'openapi.json is stale: run `npm run openapi` and commit the result').toBe(built)
  })
})
