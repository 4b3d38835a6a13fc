import { describe, expect, it } from 'vitest'
import { MIN_ANSWER_MARGIN_MS, produceTimeouts } from './produce-timeouts.js'

describe('produceTimeouts', () => {
  it('when KAFKA_TIMEOUT_MS is the default (3 s), then the client waits 3 s for an answer and asks the broker to acknowledge within 2.4 s', () => {
    expect(produceTimeouts(3000)).toEqual({ requestTimeoutMs: 3000, ackTimeoutMs: 2400 })
  })

  it("for every KAFKA_TIMEOUT_MS the configuration takes (100 ms to 60 s), then the client's request timeout is the setting and strictly longer than the broker's ack timeout, by at least the margin", () => {
    for (const timeoutMs of [100, 101, 249, 250, 251, 1000, 3000, 59_999, 60_000]) {
      const { requestTimeoutMs, ackTimeoutMs } = produceTimeouts(timeoutMs)
      expect(requestTimeoutMs).toBe(timeoutMs)
      expect(ackTimeoutMs).toBeGreaterThanOrEqual(1)
      expect(requestTimeoutMs - ackTimeoutMs).toBeGreaterThanOrEqual(MIN_ANSWER_MARGIN_MS)
    }
  })
})
