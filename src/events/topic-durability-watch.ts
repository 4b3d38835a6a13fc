import type { PartitionMetadata } from 'kafkajs'
import type { Logger } from '../logging/logger.js'
import type { ServiceMetrics } from '../metrics/service-metrics.js'
import { messageOf, type TopicSettings } from './relay-kafka-client.js'
import { judgeTopicDurability, replicationFactorOf, type TopicReplication } from './topic-durability.js'

/** What a check of the topic's durability read, or why it could not (its error's message). */
type ReplicationRead = TopicReplication | { unread: string }

/** When a check is said: at each connect, or at a recheck only when what it read changed. */
export type SayDurability = 'always' | 'when-changed'

/**
 * What `work` gives within `ms`, else 'late'; 'stopped' as soon as `stopping` is aborted. The work
 * itself goes on (kafkajs's admin cannot be cut short); `work` must not reject.
 */
async function settledWithin<T>(work: Promise<T>, ms: number, stopping?: AbortSignal): Promise<T | 'late' | 'stopped'> {
  let timer: NodeJS.Timeout | undefined
  let onStop: (() => void) | undefined
  const cut = new Promise<'late' | 'stopped'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms)
    onStop = () => resolve('stopped')
    stopping?.addEventListener('abort', onStop, { once: true })
  })
  try {
    return await Promise.race([work, cut])
  } finally {
    clearTimeout(timer)
    if (onStop) stopping?.removeEventListener('abort', onStop)
  }
}

/**
 * The relay's watch on the event topic's durability: acks=all is only as safe as the topic's
 * replication, so its replication factor, min.insync.replicas and the brokers are read and judged
 * (topic-durability.ts) at each connect and recheck, said in the log and on the at-risk gauge.
 * Kept apart from the relay's sends: it never stops them, whatever the verdict (docs/operating.md).
 * Without `topicSettings` (a test that gives only the partitions) it reads and says nothing.
 */
export class TopicDurabilityWatch {
  /** What the last check of the topic's durability read (or that it could not), so that a recheck says only what changed. */
  private lastRead: string | undefined
  /** When the topic's durability was last checked (ms since the epoch), read or not: an idle relay checks it again once this is recheckMs old. */
  private checkedAt: number | undefined

  constructor(
    private readonly options: { topic: string; timeoutMs: number; recheckMs: number },
    private readonly topicPartitions: () => Promise<PartitionMetadata[]>,
    private readonly topicSettings: (() => Promise<TopicSettings>) | undefined,
    private readonly deps: { log: Logger; metrics?: Pick<ServiceMetrics, 'setEventsTopicAtRisk'> },
  ) {}

  /**
   * Whether an event Kafka acknowledges on this topic is safe, and whether the topic takes events with
   * one broker down (topic-durability.ts), read from `partitions` (those read at a connect or a
   * recheck) and the topic's settings, and said (say).
   */
  async check(partitions: readonly PartitionMetadata[], say: SayDurability): Promise<void> {
    if (!this.topicSettings) return
    this.checkedAt = Date.now()
    this.say(await this.readReplication(partitions, this.topicSettings), say)
  }

  /**
   * A pass with nothing to send, on a relay that has checked the topic's durability before: checked
   * again once that check is recheckMs old, so that the at-risk gauge of an instance that has no
   * deletions follows the topic instead of keeping its last reading for as long as none comes (a relay
   * with events to send rechecks it before a send: the relay's recheckTopic). Said only when what it
   * reads changed; no producer is connected for it. A relay that never checked it (no event since
   * start-up, or `npm run deletion:resume` with none) asks Kafka nothing, as before.
   * Returns whether the topic's partitions were read ('read', 'not read': Kafka unreachable, the topic
   * gone), for the relay's backoff; undefined when nothing was asked, or the reading was cut short.
   * The pass waits for the reading at most timeoutMs (one try, not the client's retries, which
   * against brokers that do not answer take several), so an event appended meanwhile waits no longer
   * for it, and not at all once `stopping` is aborted (a shutdown): a reading cut short is not used
   * and asks Kafka nothing further, and one not read within timeoutMs counts as not read.
   */
  async recheckIdle(now: number, stopping?: AbortSignal): Promise<'read' | 'not read' | undefined> {
    const settings = this.topicSettings
    if (!settings || this.checkedAt === undefined || now - this.checkedAt < this.options.recheckMs || stopping?.aborted) return undefined
    this.checkedAt = now
    let reached = false
    let cut = false
    const reading = (async (): Promise<ReplicationRead> => {
      let partitions: PartitionMetadata[]
      try {
        partitions = await this.topicPartitions()
      } catch (err) {
        return { unread: messageOf(err) }
      }
      reached = partitions.length > 0
      return cut ? { unread: 'cut short' } : this.readReplication(partitions, settings)
    })()
    const { timeoutMs } = this.options
    const read = await settledWithin(reading, timeoutMs, stopping)
    cut = true
    if (read === 'stopped') return undefined
    const outcome = reached ? 'read' : 'not read'
    this.say(read === 'late' ? { unread: `topic not read within ${timeoutMs} ms` } : read, 'when-changed')
    return outcome
  }

  /** The topic's replication: its factor from `partitions`, the rest from its settings; or why it could not be read. */
  private async readReplication(partitions: readonly PartitionMetadata[], settings: () => Promise<TopicSettings>): Promise<ReplicationRead> {
    try {
      return { replicationFactor: replicationFactorOf(partitions), ...(await settings()) }
    } catch (err) {
      return { unread: messageOf(err) }
    }
  }

  /**
   * What a check read, said at each connect (`always`), and at a recheck (before a send, or idle)
   * only when it differs from the last check's (`when-changed`), so a connected relay does not repeat
   * it every TOPIC_RECHECK_MS: a warn line naming what to change when the topic is at risk, an info
   * line on a single broker (the local setup), the at-risk gauge either way. A read that failed is
   * said (its error's message, no stack) and the relay goes on; the gauge keeps what it was. The
   * relay publishes whatever the verdict: stopping would only leave more events in the outbox
   * (docs/operating.md).
   */
  private say(read: ReplicationRead, say: SayDurability): void {
    const { topic } = this.options
    if ('unread' in read) {
      if (this.readChanged(`unread ${read.unread}`, say)) this.deps.log.warn({ topic, err: read.unread }, "event topic's replication not checked: could not read it")
      return
    }
    const judged = judgeTopicDurability(read)
    const said = { topic, ...read }
    this.deps.metrics?.setEventsTopicAtRisk(judged.verdict === 'can-lose-events' || judged.verdict === 'stops-with-one-broker-down')
    if (!this.readChanged(JSON.stringify(said), say)) return
    if (judged.verdict === 'can-lose-events') this.deps.log.warn({ ...said, why: judged.why, fix: judged.fix }, 'event topic can lose an event Kafka acknowledged')
    else if (judged.verdict === 'stops-with-one-broker-down') this.deps.log.warn({ ...said, fix: judged.fix }, 'event topic refuses events while any one of its brokers is down')
    else if (judged.verdict === 'local') this.deps.log.info(said, 'event topic has a single replica on a single broker: fine for a local setup, not for production')
  }

  /** Whether a durability check that read `read` is to be said: always at a connect, at a recheck only when it differs from the last check's. */
  private readChanged(read: string, say: SayDurability): boolean {
    const changed = read !== this.lastRead
    this.lastRead = read
    return say === 'always' || changed
  }
}
