import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../src/config/project-root.js'

export type Verdict = 'PASS' | 'FAIL' | ''

export interface TableRow {
  measure: string
  reqPerSec?: number
  p50Ms?: number
  p99Ms?: number
  /** CPU time of the process doing the work, per request (µs). */
  cpuUs?: number
  rss?: string
  ratio?: string
  target?: string
  result: Verdict
}

const fmt = (value: number | undefined, digits = 2) =>
  value === undefined || Number.isNaN(value) ? '' : value >= 1000 ? Math.round(value).toLocaleString('en-US') : String(Number(value.toFixed(digits)))

/** One Markdown table: readable in a terminal, pasteable into README.md as it is. */
export function renderTable(rows: readonly TableRow[]): string {
  const header = ['Measure', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'RSS MiB', 'Ratio', 'Target', 'Result']
  const body = rows.map((r) => [r.measure, fmt(r.reqPerSec, 0), fmt(r.p50Ms), fmt(r.p99Ms), fmt(r.cpuUs, 0), r.rss ?? '', r.ratio ?? '', r.target ?? '', r.result])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] as string).length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n')
}

/** bench/results/<timestamp>.json and bench/results/latest.json (the folder is git-ignored). */
export function writeResults(result: Record<string, unknown>, startedAt: Date): string {
  const dir = join(projectRoot, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  const json = `${JSON.stringify(result, null, 2)}\n`
  writeFileSync(file, json)
  writeFileSync(join(dir, 'latest.json'), json)
  return file
}
