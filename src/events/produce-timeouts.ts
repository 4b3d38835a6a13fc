/** The least the client waits for a produce answer beyond the time the broker is given to gather its acknowledgements. */
export const MIN_ANSWER_MARGIN_MS = 50

/**
 * The two timeouts of a send, from KAFKA_TIMEOUT_MS: the client's request timeout is the setting
 * itself (the bound on each request, as documented), and the broker is asked (the produce request's
 * ack timeout, acks=all) to answer within a fifth less, at least MIN_ANSWER_MARGIN_MS less. Were the
 * two equal, the client could give up at the moment the broker answers (the records appended on the
 * leader, their replication late): the relay would count the send failed, start a new producer and
 * send the events again, duplicates on the topic. With the client waiting longer, the broker's own
 * REQUEST_TIMED_OUT normally arrives first, and kafkajs retries on the same producer id and sequence,
 * which the broker drops as duplicates. Normally only: the broker starts its ack timer after queueing
 * the request and appending it locally, so a broker slow to do that can still answer too late.
 */
export function produceTimeouts(timeoutMs: number): { requestTimeoutMs: number; ackTimeoutMs: number } {
  const margin = Math.max(MIN_ANSWER_MARGIN_MS, Math.ceil(timeoutMs / 5))
  return { requestTimeoutMs: timeoutMs, ackTimeoutMs: Math.max(1, timeoutMs - margin) }
}
