import { readFileSync, writeFileSync } from 'node:fs'
import { relative } from 'node:path'
import { projectRoot } from '../src/config/project-root.js'
import { generatedSections, renderDocFile } from './lib/doc-tables.js'

// `npm run docs`: rewrites the generated tables of docs/ (between their markers) from their sources.
for (const file of new Set(generatedSections.map((section) => section.file))) {
  const current = readFileSync(file, 'utf8')
  const rendered = renderDocFile(file, current)
  if (rendered !== current) writeFileSync(file, rendered)
  console.log(`${rendered === current ? 'up to date' : 'rewrote'} ${relative(projectRoot, file)}`)
}
