import { Client, types } from 'cassandra-driver'

const consistencyName = new Map<number, string>(Object.entries(types.consistencies).map(([name, value]) => [value as number, name]))

/** One statement as the driver was asked to run it: the CQL (whitespace collapsed) and the options that change how it runs. */
export interface RecordedStatement {
  cql: string
  prepare: boolean
  idempotent: boolean
  /** A consistency the statement sets itself (driver code), else the client's default. */
  consistency: string
}

const key = (s: RecordedStatement) => `${s.cql}  [prepare=${s.prepare} idempotent=${s.idempotent} consistency=${s.consistency}]`

type Options = { prepare?: boolean; isIdempotent?: boolean; consistency?: number } | undefined

/**
 * Records every statement any cassandra-driver Client in this process executes while `record` runs
 * (Client.prototype is patched for that time only). Used to check that baseline B still issues the
 * statements the service issues for one deletion, so a reworked workflow cannot silently make the
 * comparison meaningless.
 */
export async function recordStatements(work: () => Promise<unknown>): Promise<RecordedStatement[]> {
  const recorded: RecordedStatement[] = []
  const proto = Client.prototype as unknown as Record<'execute' | 'batch', (...args: unknown[]) => unknown>
  const originalExecute = proto.execute
  const originalBatch = proto.batch
  const push = (query: unknown, options: Options) => {
    recorded.push({
      cql: String(query).replace(/\s+/g, ' ').trim(),
      prepare: options?.prepare === true,
      idempotent: options?.isIdempotent === true,
      consistency: options?.consistency === undefined ? 'client default' : (consistencyName.get(options.consistency) ?? String(options.consistency)),
    })
  }
  proto.execute = function (this: Client, ...args: unknown[]) {
    push(args[0], typeof args[2] === 'object' ? (args[2] as Options) : undefined)
    return originalExecute.apply(this, args)
  }
  proto.batch = function (this: Client, ...args: unknown[]) {
    const options = typeof args[1] === 'object' ? (args[1] as Options) : undefined
    for (const query of args[0] as ({ query: string } | string)[]) push(`BATCH ${typeof query === 'string' ? query : query.query}`, options)
    return originalBatch.apply(this, args)
  }
  try {
    await work()
  } finally {
    proto.execute = originalExecute
    proto.batch = originalBatch
  }
  return recorded
}

export interface StatementComparison {
  matches: boolean
  serviceStatements: string[]
  baselineStatements: string[]
  /** Issued by the service, not by baseline B (multiset difference). */
  missingFromBaseline: string[]
  /** Issued by baseline B, not by the service. */
  extraInBaseline: string[]
}

function multisetMinus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>()
  for (const s of b) left.set(s, (left.get(s) ?? 0) + 1)
  return a.filter((s) => {
    const n = left.get(s) ?? 0
    if (n === 0) return true
    left.set(s, n - 1)
    return false
  })
}

/** Same statements, same number of times, same options (order ignored: parts of a deletion run in parallel). */
export function compareStatements(service: readonly RecordedStatement[], baseline: readonly RecordedStatement[]): StatementComparison {
  const serviceStatements = service.map(key)
  const baselineStatements = baseline.map(key)
  const missingFromBaseline = multisetMinus(serviceStatements, baselineStatements)
  const extraInBaseline = multisetMinus(baselineStatements, serviceStatements)
  return {
    matches: serviceStatements.length > 0 && missingFromBaseline.length === 0 && extraInBaseline.length === 0,
    serviceStatements,
    baselineStatements,
    missingFromBaseline,
    extraInBaseline,
  }
}
