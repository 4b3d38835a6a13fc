import { createRequire } from 'node:module'
import { KafkaJSConnectionError, KafkaJSNonRetriableError } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { isTooLarge } from './too-large-refusal.js'

// The error kafkajs builds from a produce response's error code: what producer.send rejects with.
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error & { type: string; code: number } }
const MESSAGE_TOO_LARGE = 10
const RECORD_LIST_TOO_LARGE = 18

describe('isTooLarge', () => {
  it("when kafkajs rejects a send with the broker's MESSAGE_TOO_LARGE or RECORD_LIST_TOO_LARGE, then it is too large; a connection error is not", () => {
    expect(isTooLarge(createErrorFromCode(MESSAGE_TOO_LARGE))).toBe(true)
    expect(isTooLarge(createErrorFromCode(RECORD_LIST_TOO_LARGE))).toBe(true)
    const tooLarge = createErrorFromCode(MESSAGE_TOO_LARGE)
    // kafkajs's retrier wraps what it gives up on so, the broker's error as its cause.
    expect(isTooLarge(Object.assign(new KafkaJSNonRetriableError(tooLarge), { cause: tooLarge }))).toBe(true)
    expect(isTooLarge(new KafkaJSConnectionError('Connection error'))).toBe(false)
    expect(isTooLarge(createErrorFromCode(7))).toBe(false)
    expect(isTooLarge(undefined)).toBe(false)
  })
})
