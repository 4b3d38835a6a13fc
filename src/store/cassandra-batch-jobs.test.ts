import { type Client, errors } from 'cassandra-driver'
import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../deletion/errors.js'
import type { BatchJob } from '../deletion/ports.js'
import { CassandraBatchJobs } from './cassandra-batch-jobs.js'

const CREATED = new Date('2026-12-05T10:00:00.123Z')
const JOB: BatchJob = {
  id: 'job-1',
  createdBy: 'admin-1',
  organisationIds: ['org-1'],
  caller: { consumer: 'portal', userId: 'admin-1', roles: [{ role: 'ORG_ADMIN', organisationIds: ['org-1'] }] },
  mode: 'hard',
  total: 3,
  slices: 2,
  state: 'running',
  createdAt: CREATED,
  updatedAt: CREATED,
}
const ITEMS = [
  { userId: 'user-a', slice: 0 },
  { userId: 'user-b', slice: 0 },
  { userId: 'user-c', slice: 1 },
]

interface Sent {
  kind: 'execute' | 'unlogged batch' | 'logged batch'
  cql: string[]
  timestamp?: number
}

/** A driver stand-in recording what is sent, in order; `failWhen` picks a call that times out (after it is recorded, nothing of it applied). */
function recordingClient(failWhen: (sent: Sent) => boolean = () => false) {
  const sent: Sent[] = []
  const timedOut = () => new errors.OperationTimedOutError('timed out')
  const record = async (entry: Sent) => {
    sent.push(entry)
    if (failWhen(entry)) throw timedOut()
    return { rows: [], wasApplied: () => true, first: () => null }
  }
  const client = {
    execute: (cql: string, _params: unknown[], options: { timestamp?: number } = {}) =>
      record({ kind: 'execute', cql: [cql], ...(options.timestamp !== undefined && { timestamp: options.timestamp }) }),
    batch: (queries: { query: string }[], options: { logged?: boolean; timestamp?: number } = {}) =>
      record({ kind: options.logged === false ? 'unlogged batch' : 'logged batch', cql: queries.map((q) => q.query), ...(options.timestamp !== undefined && { timestamp: options.timestamp }) }),
  }
  return { client: client as unknown as Client, sent }
}

const table = (cql: string) => /(?:INTO|FROM|UPDATE) ks\.(\w+)/.exec(cql)?.[1]
const tablesOf = (entry: Sent) => entry.cql.map(table)

describe('CassandraBatchJobs.createWhole', () => {
  it('when a job is created whole, then its slices and users are written first, then the job and its listing in one logged batch, all as of its creation, with no compare-and-set', async () => {
    const { client, sent } = recordingClient()

    await new CassandraBatchJobs(client, 'ks').createWhole(JOB, ITEMS)

    const last = sent.at(-1) as Sent
    expect(last.kind).toBe('logged batch')
    expect(tablesOf(last)).toEqual(['user_deletion_batch', 'user_deletion_batch_open'])
    for (const entry of sent.slice(0, -1)) for (const written of tablesOf(entry)) expect(['user_deletion_batch_slice', 'user_deletion_batch_item']).toContain(written)
    expect(sent.slice(0, -1).flatMap(tablesOf).sort()).toEqual([
      'user_deletion_batch_item',
      'user_deletion_batch_item',
      'user_deletion_batch_item',
      'user_deletion_batch_slice',
      'user_deletion_batch_slice',
    ])
    expect(sent.flatMap((entry) => entry.cql).filter((cql) => /\bIF\b/.test(cql))).toEqual([])
    expect(sent.map((entry) => entry.timestamp)).toEqual(sent.map(() => CREATED.getTime() * 1000))
  })

  it('when writing its users times out, then neither the job nor its listing is sent: nothing names the rows written', async () => {
    const { client, sent } = recordingClient((entry) => entry.kind !== 'logged batch')

    await expect(new CassandraBatchJobs(client, 'ks').createWhole(JOB, ITEMS)).rejects.toThrow(DependencyUnavailableError)

    expect(sent.flatMap(tablesOf)).not.toContain('user_deletion_batch')
    expect(sent.flatMap(tablesOf)).not.toContain('user_deletion_batch_open')
  })

  it('when a keyed job is opened, then its listing is still written last and apart (a retry completes it), and its record is the compare-and-set', async () => {
    const { client, sent } = recordingClient()
    const jobs = new CassandraBatchJobs(client, 'ks')

    await jobs.create(JOB)
    await jobs.open(JOB, ITEMS)

    expect(sent[0]?.cql[0]).toMatch(/^INSERT INTO ks\.user_deletion_batch \(.*IF NOT EXISTS$/)
    expect(sent.at(-1)).toEqual({ kind: 'execute', cql: ['INSERT INTO ks.user_deletion_batch_open (id, createdat) VALUES (?, ?)'], timestamp: CREATED.getTime() * 1000 })
    expect(sent.filter((entry) => entry.kind === 'logged batch')).toEqual([])
  })
})
