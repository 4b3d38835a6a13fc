import { writeFileSync } from 'node:fs'
import { openApiFile, renderOpenApiFile } from './lib/openapi-file.js'

// `npm run openapi`: (re)writes openapi.json at the repository root from schemas/ and the routes.
writeFileSync(openApiFile, renderOpenApiFile())
console.log(`wrote ${openApiFile}`)
