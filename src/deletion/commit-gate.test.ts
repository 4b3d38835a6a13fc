import { describe, expect, it } from 'vitest'
import { answerByDeadline } from './commit-gate.js'
import { DependencyUnavailableError } from './errors.js'

const soon = (ms: number) => new Date(Date.now() + ms)
const never = new Promise<string>(() => undefined)

describe('answerByDeadline', () => {
  it('when the work finishes first, then its own answer is the answer', async () => {
    expect(
      await answerByDeadline(
        soon(1000),
        () => 'accepted',
        async () => 'done',
      ),
    ).toBe('done')
  })

  it('when the deadline passes before the point of no return, then the answer is "retry" and the work may no longer pass it', async () => {
    let enterLater: () => void = () => undefined
    const answer = answerByDeadline(
      soon(20),
      () => 'accepted',
      (gate) => {
        enterLater = () => gate.enter()
        return never
      },
    )
    await expect(answer).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(() => enterLater()).toThrow(DependencyUnavailableError)
  })

  it('when the deadline passes after the point of no return, then the answer is the accepted one, even if the work fails later', async () => {
    let failLater: (err: Error) => void = () => undefined
    const answer = answerByDeadline(
      soon(20),
      () => 'accepted',
      (gate) => {
        gate.enter()
        return new Promise<string>((_, reject) => {
          failLater = reject
        })
      },
    )
    expect(await answer).toBe('accepted')
    failLater(new DependencyUnavailableError('cassandra'))
  })

  it('when the work passes its point of no return, then onCommit hears it then, once, and not before', async () => {
    const heard: string[] = []
    const answer = answerByDeadline(
      soon(1000),
      () => 'accepted',
      async (gate) => {
        heard.push('before')
        gate.enter()
        heard.push('after')
        return 'done'
      },
      () => heard.push('committed'),
    )

    expect(await answer).toBe('done')
    expect(heard).toEqual(['before', 'committed', 'after'])
  })

  it('when the deadline has already passed on arrival, then the answer is "retry" and the work is never started', async () => {
    let started = false
    const answer = answerByDeadline(
      new Date(Date.now() - 1),
      () => 'accepted',
      async () => {
        started = true
        return 'done'
      },
    )
    await expect(answer).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(started).toBe(false)
  })
})
