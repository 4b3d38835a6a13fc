import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../src/config/project-root.js'
import { renderSchemaTypes, schemaTypesFile } from './lib/schema-types.js'

// `npm run schemas:types`: (re)writes src/schemas/schema-types.ts from schemas/.
const path = join(projectRoot, schemaTypesFile)
writeFileSync(path, await renderSchemaTypes())
console.log(`wrote ${path}`)
