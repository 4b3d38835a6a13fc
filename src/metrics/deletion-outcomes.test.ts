import { describe, expect, it } from 'vitest'
import { DeletionWithdrawnError, NotPermittedError, RequestAlreadyOpenedError } from '../deletion/errors.js'
import { FencePassedError } from '../deletion/lease.js'
import { countDeletionOutcomes } from './deletion-outcomes.js'
import type { DeletionOutcome } from './service-metrics.js'

describe('the deletion outcome count', () => {
  it('when deletions succeed, are refused or fail, then each is counted by its outcome; a second runner of a batch item meeting the first one, a batch item whose create was not known in place within its slice lease, or one withdrawn before its create (its job cancelled), is not an attempt of its own', async () => {
    const counted: DeletionOutcome[] = []
    const run = countDeletionOutcomes({ countDeletion: (outcome) => counted.push(outcome) }, async (input: Error | undefined) => {
      if (input) throw input
      return 'done'
    })

    const results = await Promise.allSettled([
      run(undefined),
      run(new NotPermittedError('test')),
      run(new Error('bug')),
      run(new RequestAlreadyOpenedError('batch-1')),
      run(new FencePassedError('batch-2')),
      run(new DeletionWithdrawnError('batch-3')),
    ])

    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected'])
    expect(counted.sort()).toEqual(['error', 'forbidden', 'success'])
  })
})
