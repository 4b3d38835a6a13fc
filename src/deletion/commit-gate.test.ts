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

  it('when the deadline passes once the work holds the lock, then the answer is the accepted one, even if the work fails later', async () => {
    let failLater: (err: Error) => void = () => undefined
    const answer = answerByDeadline(
      soon(20),
      () => 'accepted',
      (gate) => {
        gate.enter()
        gate.decided()
        return new Promise<string>((_, reject) => {
          failLater = reject
        })
      },
    )
    expect(await answer).toBe('accepted')
    failLater(new DependencyUnavailableError('cassandra'))
  })

  it('when the deadline passes after the point of no return but before the lock is decided, then the answer waits for the lock and is the work’s own (the loser’s refusal)', async () => {
    let loseLater: () => void = () => undefined
    const answer = answerByDeadline(
      soon(20),
      () => 'accepted',
      (gate) => {
        gate.enter()
        return new Promise<string>((_, reject) => {
          loseLater = () => reject(new Error('lost the lock'))
        })
      },
    )
    setTimeout(() => loseLater(), 80)
    await expect(answer).rejects.toThrow('lost the lock')
  })

  it('when the lock is won after the deadline, then the accepted answer is given at that moment, not when the work ends', async () => {
    let winLater: () => void = () => undefined
    const answer = answerByDeadline(
      soon(20),
      () => 'accepted',
      (gate) => {
        gate.enter()
        winLater = () => gate.decided()
        return never
      },
    )
    setTimeout(() => winLater(), 80)
    expect(await answer).toBe('accepted')
  })

  it('when the lock is still undecided the wait after the deadline, then the accepted answer is given (the request exists and is carried out)', async () => {
    const answer = answerByDeadline(
      soon(20),
      () => 'accepted',
      (gate) => {
        gate.enter()
        return never
      },
      { decisionWaitMs: 50 },
    )
    expect(await answer).toBe('accepted')
  })

  it('when the work asks for its own outcome only (a batch write) and is undecided past the wait, then no accepted answer is given: its own failure, however late, is the answer', async () => {
    const answer = answerByDeadline(
      soon(20),
      () => 'accepted',
      async (gate) => {
        gate.enter()
        await new Promise((resolve) => setTimeout(resolve, 150))
        throw new DependencyUnavailableError('cassandra')
      },
      { decisionWaitMs: 50, untilOutcome: true },
    )
    await expect(answer).rejects.toBeInstanceOf(DependencyUnavailableError)
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
      { onCommit: () => heard.push('committed') },
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
