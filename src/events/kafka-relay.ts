import { Kafka, type KafkaConfig, type PartitionMetadata } from 'kafkajs'
import type { Logger } from '../logging/logger.js'
import type { ServiceMetrics } from '../metrics/service-metrics.js'
import type { CassandraEventOutbox, OutboxEntry, OutboxPage } from '../store/cassandra-event-outbox.js'
import { HeldBackEvents } from './held-back-events.js'
import { MAX_WAITING_EVENTS, PartitionWaits } from './partition-waits.js'
import { produceTimeouts } from './produce-timeouts.js'
import { PublicationRecords } from './publication-records.js'
import { messageOf, type RelayProducer, relayKafkaClient, type TopicSettings } from './relay-kafka-client.js'
import { RetryBackoff } from './retry-backoff.js'
import { recordBatchBytes, SMALLEST_SEND_BYTES, sendsOf } from './send-sizes.js'
import { isTooLarge } from './too-large-refusal.js'
import { TopicDurabilityWatch } from './topic-durability-watch.js'
import { byPartition, type PartitionOf, partitionerFor } from './topic-partitions.js'

/** Wait for every in-sync replica (Kafka's acks=all). */
const ACKS_ALL = -1

/**
 * How often, at most, a connected relay reads the topic again (its partitions, replication and
 * min.insync.replicas) before a send: a topic re-created, re-configured or given more partitions
 * while the relay stays connected is seen within this, not only at the next connect. Below
 * kafkajs's own metadata refresh (metadataMaxAge, 5 min), so that the relay normally sees added
 * partitions first and starts a producer that places events over the same count it groups them by.
 */
export const TOPIC_RECHECK_MS = 60_000

/** How many pages one relay tick publishes at most when the outbox holds a backlog. */
const MAX_PASSES = 10

/**
 * The waits while a dependency keeps failing: 1 s, 2 s, 4 s … at most 30 s. Kept apart for Kafka
 * unreachable (no send at all), for each partition whose sends fail, and for Cassandra not recording
 * publications.
 */
export const BACKOFF = { firstMs: 1000, maxMs: 30_000 }

/**
 * How many partitions' sends may fail in one pass: the rest of the page waits for the next pass,
 * untried, so a pass never spends more than a few sends' retries (each up to the client's retries
 * of KAFKA_TIMEOUT_MS) while Kafka answers connects but takes nothing.
 */
export const MAX_PARTITION_FAILURES_PER_PASS = 2

/**
 * The waits before an event Kafka refused as too large for the topic is sent again: 1 min, 2 min …
 * at most 15 min, each shortened by up to a quarter at random, so events refused together (a pass
 * of large events, all held back at once) do not all come back at the same pass.
 */
export const TOO_LARGE_BACKOFF = { firstMs: 60_000, maxMs: 15 * 60_000, jitter: 0.25 }

/** Most held-back events whose wait is over one pass sends again; the others are passed by until a later pass. */
export const HELD_BACK_RETRIES_PER_PASS = 4

export interface KafkaRelayOptions {
  brokers: string[]
  topic: string
  clientId: string
  /** Bound on connecting and on one send. */
  timeoutMs: number
  /** Most bytes of events in one send (recordBatchBytes of its entries); an event larger than this goes alone. */
  maxSendBytes: number
  /** How often a connected relay reads the topic again; TOPIC_RECHECK_MS by default. */
  topicRecheckMs?: number
  /** The waits while Kafka, a partition or Cassandra keeps failing; BACKOFF by default (a test lengthens them to act within one). */
  backoff?: { firstMs: number; maxMs: number }
}

export interface RelayDeps {
  outbox: Pick<CassandraEventOutbox, 'pending' | 'markPublished' | 'attemptFailed' | 'listedCount'>
  /** Told when an event reached the topic (the deletion request records it). */
  published(requestId: string, at: Date): Promise<void>
  log: Logger
  /**
   * Events refused as too large for the topic (counted once each, and how many are held back now),
   * events not published in a pass (by reason), and what the last read of the listing found waiting.
   */
  metrics?: Pick<ServiceMetrics, 'countEventTooLarge' | 'setEventsHeldBack' | 'countEventPublishFailures' | 'setEventsWaiting' | 'setEventsTopicAtRisk'>
  /** Makes the relay's kafkajs client (its producers and admins) from relayKafkaConfig; kafkajs's Kafka by default. A test gives one to see the settings the client is made with. */
  createKafka?: (config: KafkaConfig) => Kafka
  /** The producer to connect; kafkajs's idempotent producer by default. A test gives topicPartitions with it. */
  createProducer?: () => RelayProducer
  /** The topic's partitions, asked at each connect and at each recheck (topicRecheckMs); kafkajs's admin (fetchTopicMetadata) on the default producer's client by default. */
  topicPartitions?: () => Promise<PartitionMetadata[]>
  /**
   * The topic's effective min.insync.replicas and the cluster's brokers, asked at each connect (and recheck) once the
   * partitions are read, to judge the topic's durability: kafkajs's admin (describeConfigs,
   * describeCluster) by default, but not asked at all when a test gives topicPartitions without it.
   */
  topicSettings?: () => Promise<TopicSettings>
  /** Uniform in [0, 1): spreads the waits of held-back events (TOO_LARGE_BACKOFF.jitter); Math.random by default. */
  random?: () => number
  /** Most events remembered as waiting for a failing partition; MAX_WAITING_EVENTS by default. */
  maxWaitingEvents?: number
}

/** What `publishBacklog` left: for `npm run deletion:resume`'s last line and exit code. */
export interface BacklogReport {
  /** Events on the topic and recorded so. */
  published: number
  /** Events still listed in the outbox, read to the listing's end (held-back ones, and any appended meanwhile, included). */
  remaining: number
  /** Of `remaining`, those Kafka refused as too large for the topic. */
  heldBack: number
  /** Why events are still waiting to be sent: Kafka refused them (unreachable, or their partition failing), or Cassandra did not record their publication; never set when none is left. */
  stoppedBy?: 'kafka' | 'cassandra'
}

/** The producer connected, where it puts each event, over how many partitions, and when the topic was last read (ms since the epoch). */
interface Connection {
  producer: RelayProducer
  partitionOf: PartitionOf
  partitionCount: number
  checkedAt: number
}

/** How a partition's sends of a pass ended; `unsent`: the entries not sent because Kafka could not be reached. */
type PartitionOutcome = { kind: 'sent' | 'failed' | 'unrecorded'; recorded: string[] } | { kind: 'unreachable'; recorded: string[]; unsent: OutboxEntry[]; err: unknown }

/**
 * Publishes what the outbox holds, a page at a time in listing order, each page read on from where
 * the last one stopped (round the listing: listingAfter), and marks each entry (its
 * request, then the entry) only after Kafka acknowledged its send (acks=all). A crash in between
 * republishes the same payload, with the same mid, so consumers can drop the duplicate. The
 * producer is idempotent, so its own retries add none.
 * Each send holds the events of one partition (the one kafkajs's default partitioner picks for
 * the key, over the partition count read at connect; kafkajs places them by the same rule over its
 * own metadata, so a send spans two partitions only while the two counts differ), in listing order,
 * at most `maxSendBytes`: kafkajs rejects a send whole when one partition's broker fails it, though
 * the others' records were appended, so a send across partitions made one unavailable partition
 * hold back, and re-send, every event. A
 * partition whose send fails waits (its entries' attempts counted, a wait that grows while it keeps
 * failing), its events passed by in the listing meanwhile, while the other partitions' sends go on
 * and are recorded: PartitionWaits keeps that, and past its cap the relay waits as a whole.
 * Kafka unreachable (no connect) means every entry waits: for a pass after a wait that grows while
 * it stays down, so the outbox is not read and marked every tick.
 * An event Kafka acknowledged whose publication Cassandra did not record is kept (a page at most)
 * and only its record is tried again, after a wait, before anything new is sent: never sent again
 * by this process (a restart does send it again, with the same mid); PublicationRecords keeps that.
 * A send Kafka refuses as too large is split in two, down to single events; an event refused alone
 * (larger than the topic's `max.message.bytes`) stays in the outbox, is reported once, and is held
 * back: passed by without being read, and sent again after TOO_LARGE_BACKOFF, while the others go on;
 * a pass sends at most HELD_BACK_RETRIES_PER_PASS of them again, so they never hold up the others long
 * (HeldBackEvents keeps their waits).
 * acks=all is only as safe as the topic's replication: at each connect the relay reads its replication
 * factor, min.insync.replicas and the brokers, and says when an acknowledged event can be lost, or
 * when one broker down would stop every event (topic-durability.ts); it publishes all the same.
 * A connection older than TOPIC_RECHECK_MS reads the topic again before its next send (recheckTopic):
 * a topic gone, or of another partition count, is connected to afresh (a topic gone then holds every
 * event back, as at connect), and a change of its replication is said. A relay with nothing to send
 * checks the replication again as often (recheckIdle), once it has checked it a first time
 * (TopicDurabilityWatch keeps those checks and says what they read).
 */
export class KafkaRelay {
  private connection: Connection | undefined
  private connecting: Promise<Connection> | undefined
  private running: Promise<number> | undefined
  private readonly createProducer: () => RelayProducer
  private readonly topicPartitions: () => Promise<PartitionMetadata[]>
  /** The topic's durability, checked at each connect and recheck, and said. */
  private readonly durability: TopicDurabilityWatch
  /** Kafka unreachable (a failed connect, or an idle recheck that could not read the topic): nothing is read or sent until the wait is over. */
  private readonly backoff: RetryBackoff
  /** Records of what Kafka acknowledged; when Cassandra did not make some, they are owed: nothing is read or sent until they are made, after a wait. */
  private readonly records: PublicationRecords
  /** Partitions whose last send failed, the events waiting for them, and the relay's wait as a whole when more wait than it remembers. */
  private readonly partitionWaits: PartitionWaits
  /** Events Kafka refused as too large: when each may be sent again. */
  private readonly heldBack: HeldBackEvents
  /**
   * Where the next pass reads the listing from: after the last id the last page took up, when the
   * listing went on past it; its start otherwise. Entries the relay meets and cannot send (a failing
   * partition's beyond those it remembers, listings whose entry has not landed) are thus passed, not
   * read again at the head of every page, so none holds back the events listed after it.
   */
  private listingAfter: string | undefined
  /** options.maxSendBytes, lowered when the topic refused a send of several events as too large. */
  private maxSendBytes: number
  private readonly topicRecheckMs: number

  constructor(
    private readonly options: KafkaRelayOptions,
    private readonly deps: RelayDeps,
  ) {
    const kafka = relayKafkaClient(options, deps.createKafka ?? ((config) => new Kafka(config)))
    this.createProducer = deps.createProducer ?? kafka.createProducer
    this.topicPartitions = deps.topicPartitions ?? kafka.topicPartitions
    const topicSettings = deps.topicSettings ?? (deps.topicPartitions ? undefined : kafka.topicSettings)
    const backoff = options.backoff ?? BACKOFF
    this.backoff = new RetryBackoff(backoff)
    this.heldBack = new HeldBackEvents(TOO_LARGE_BACKOFF, HELD_BACK_RETRIES_PER_PASS, deps.random ?? Math.random)
    this.partitionWaits = new PartitionWaits(deps.maxWaitingEvents ?? MAX_WAITING_EVENTS, backoff)
    this.records = new PublicationRecords((entry, at) => this.record(entry, at), deps, backoff)
    this.maxSendBytes = options.maxSendBytes
    this.topicRecheckMs = options.topicRecheckMs ?? TOPIC_RECHECK_MS
    this.durability = new TopicDurabilityWatch({ topic: options.topic, timeoutMs: options.timeoutMs, recheckMs: this.topicRecheckMs }, this.topicPartitions, topicSettings, deps)
  }

  /**
   * Passes over the outbox while the listing holds more than a page (up to MAX_PASSES), so a backlog drains
   * faster than one page per interval; concurrent calls share the work in flight. Returns how
   * many were published.
   */
  publishPending(limit = 100, stopping?: AbortSignal): Promise<number> {
    this.running ??= this.drain(limit, stopping).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /**
   * `npm run deletion:resume`'s publication: publishPending again and again until one publishes
   * nothing, because nothing is left to send (held-back events aside) or because what is left waits
   * for Kafka (unreachable, a partition failing) or for Cassandra to record it; then how many are
   * still listed, and why. It never waits out a backoff: a run ends as soon as Kafka refuses.
   */
  async publishBacklog(limit = 100): Promise<BacklogReport> {
    let published = 0
    for (;;) {
      const count = await this.publishPending(limit)
      published += count
      if (count === 0) break
    }
    const remaining = await this.deps.outbox.listedCount()
    const now = Date.now()
    const kafkaRefused = !this.backoff.ready(now) || this.partitionWaits.anyWaiting(now)
    // Nothing left, nothing waits: a last, empty pass whose idle read of the topic failed (a run over a minute) refused no event.
    const stoppedBy = remaining === 0 ? undefined : this.records.owes() ? 'cassandra' : kafkaRefused ? 'kafka' : undefined
    return { published, remaining, heldBack: this.heldBack.size, ...(stoppedBy && { stoppedBy }) }
  }

  async close(): Promise<void> {
    await this.running?.catch(() => undefined)
    await this.reset()
  }

  /** `stopping` (the process shutting down): no further pass, and no further partition's send within one; what is sent is recorded first. */
  private async drain(limit: number, stopping?: AbortSignal): Promise<number> {
    let published = 0
    const tick = { readFromStart: false }
    for (let pass = 0; pass < MAX_PASSES && !stopping?.aborted; pass++) {
      const { count, more } = await this.pass(limit, tick, stopping)
      published += count
      if (!more) break
    }
    return published
  }

  /** `tick.readFromStart`: a pass of this tick has read the listing from its start already; a pass that reaches the listing's end goes round to it again only once a tick. */
  private async pass(limit: number, tick: { readFromStart: boolean }, stopping?: AbortSignal): Promise<{ count: number; more: boolean }> {
    const now = Date.now()
    if (!this.backoff.ready(now) || !this.records.ready(now) || !this.partitionWaits.overflowWaitOver(now)) return { count: 0, more: false }
    // Kafka has these already: only their record is owed, and it goes before anything new is sent,
    // so a Cassandra in trouble never makes the relay send the same events every tick.
    let count = 0
    if (this.records.owes()) {
      count = (await this.records.recordOwed()).length
      if (this.records.owes()) return { count, more: false }
    }
    const after = this.listingAfter
    if (after === undefined) tick.readFromStart = true
    const page = await this.deps.outbox.pending(limit, this.passedBy(now), after)
    // Every id the listing gave, read or not (passed by, or past the page), so that a held-back event
    // cut off by the page is not taken for one gone from the listing, and reported again: only a read
    // from the listing's start to its end gave every id.
    if (page.complete && after === undefined) this.forgetUnlisted(page.listed)
    // Reached the listing's end from a place within it: what lies before that place is read next.
    const goRound = after !== undefined && !page.more && !tick.readFromStart
    if (page.entries.length === 0) {
      this.listingAfter = page.more ? page.resumeAfter : undefined
      this.reportWaiting(page, [])
      if (page.more || goRound) return { count, more: true }
      await this.recheckIdle(now, stopping)
      return { count, more: false }
    }
    const { recorded, goOn, readAgain, passed } = await this.sendPage(page.entries, now, stopping)
    this.reportWaiting(page, recorded)
    if (readAgain) {
      // The waits were dropped: the next pass reads from the listing's start with nothing passed by, so
      // an event that waited for its old partition is met before any event of its key listed after it.
      this.listingAfter = undefined
      return { count, more: true }
    }
    // A page gone through (its events sent, or passed by as waiting or held back), or passed: the next
    // reads on after it. One cut short (Kafka unreachable, a record owed, too many failing partitions) is read again.
    if (goOn || passed) this.listingAfter = page.more ? page.resumeAfter : undefined
    const { overflowed, first } = this.partitionWaits.endPass(Date.now())
    if (first) {
      this.deps.log.warn({ remembered: this.partitionWaits.maxEvents }, 'more events wait for failing partitions than the relay remembers: it waits as a whole until they go')
    }
    if (overflowed) return { count: count + recorded.length, more: false }
    return { count: count + recorded.length, more: (page.more || goRound) && goOn }
  }

  /**
   * The page's events, a partition at a time: those of a partition still waiting after a failed send
   * are kept for a later pass (passed by in the listing meanwhile); the others go in sends of at
   * most maxSendBytes, one after another: one acknowledgement per send instead of one per event (the
   * relay fell behind a batch deletion at one send each), and none larger than a broker takes (a
   * record batch over the topic's max.message.bytes is refused whole, every time). acks=all:
   * acknowledged once every in-sync replica has them (min.insync.replicas 2 of 3 on a cluster), so a
   * broker lost right after cannot take them along. `goOn`: whether a further pass may follow;
   * `readAgain`: nothing sent, the partitions numbered anew (renumbered): the listing is read again at once, from its start;
   * `passed`: cut short with only partitions that failed before left, so the next read goes on past the page.
   */
  private async sendPage(entries: OutboxEntry[], now: number, stopping?: AbortSignal): Promise<{ recorded: string[]; goOn: boolean; readAgain?: boolean; passed?: boolean }> {
    let connection: Connection
    try {
      connection = await this.connect()
      // A connection that has lasted topicRecheckMs: the topic read again, and connected afresh when it changed.
      if (now - connection.checkedAt >= this.topicRecheckMs && !(await this.recheckTopic(connection, now))) connection = await this.connect()
    } catch (err) {
      await this.unreachable(entries, err)
      return { recorded: [], goOn: false }
    }
    this.backoff.succeeded()
    if (this.partitionWaits.renumbered(connection.partitionCount)) return { recorded: [], goOn: true, readAgain: true }
    const toSend: [number, OutboxEntry[]][] = []
    for (const [partition, group] of byPartition(entries, (entry) => connection.partitionOf(entry.userId))) {
      if (this.partitionWaits.isWaiting(partition, now)) this.partitionWaits.remember(partition, group)
      else toSend.push([partition, group])
    }
    // Partitions with no failed send behind them first, those tried again after their wait last:
    // a partition that keeps failing never holds up the others' events.
    toSend.sort(([a], [b]) => Number(this.partitionWaits.hasFailed(a)) - Number(this.partitionWaits.hasFailed(b)))
    const recorded: string[] = []
    let failures = 0
    for (const [index, [partition, group]] of toSend.entries()) {
      if (stopping?.aborted) return { recorded, goOn: false }
      if (failures === MAX_PARTITION_FAILURES_PER_PASS) {
        // Only partitions that failed before left (tried last): the page is passed, their events met
        // again when the read comes round. Read again, it would meet them first at each tick that comes
        // after their waits, and nothing listed after it would be reached. One with a partition left
        // that has not failed is read again at the next tick.
        return { recorded, goOn: false, passed: toSend.slice(index).every(([left]) => this.partitionWaits.hasFailed(left)) }
      }
      const outcome = await this.sendPartition(partition, group)
      recorded.push(...outcome.recorded)
      if (outcome.kind === 'unreachable') {
        await this.unreachable([...outcome.unsent, ...toSend.slice(index + 1).flatMap(([, rest]) => rest)], outcome.err)
        return { recorded, goOn: false }
      }
      if (outcome.kind === 'unrecorded') return { recorded, goOn: false }
      if (outcome.kind === 'failed') failures++
    }
    return { recorded, goOn: true }
  }

  /** One partition's events of the page, in sends of at most maxSendBytes, each recorded once acknowledged. */
  private async sendPartition(partition: number, entries: OutboxEntry[]): Promise<PartitionOutcome> {
    const sends = sendsOf(entries, this.maxSendBytes)
    const recorded: string[] = []
    for (let send = sends.shift(); send; send = sends.shift()) {
      let producer: RelayProducer
      try {
        // Connected again after an earlier partition's failure started the producer afresh.
        producer = (await this.connect()).producer
      } catch (err) {
        return { kind: 'unreachable', recorded, unsent: [send, ...sends].flat(), err }
      }
      try {
        // The partition is not named: kafkajs places each message by the same partitioner over its own
        // metadata. Named, one its metadata does not hold yet (partitions being added, a topic made
        // again) is dropped by kafkajs without a request, and the send resolves as if it were sent.
        const messages = send.map((entry) => ({ key: entry.userId, value: entry.payload }))
        // The broker's ack timeout, shorter than the client's request timeout (produce-timeouts.ts).
        await producer.send({ topic: this.options.topic, acks: ACKS_ALL, timeout: produceTimeouts(this.options.timeoutMs).ackTimeoutMs, messages })
      } catch (err) {
        if (isTooLarge(err)) {
          // One partition's batch, of which the broker appended nothing, and kafkajs stepped that
          // partition's sequence back to where the broker expects it: the producer is kept.
          const [only] = send
          if (send.length === 1 && only) await this.holdBack(only, Date.now())
          else {
            this.lowerSendBytes(recordBatchBytes(send))
            const half = Math.ceil(send.length / 2)
            sends.unshift(send.slice(0, half), send.slice(half))
          }
          continue
        }
        // The broker may have appended some of it (a timeout after the append) while kafkajs stepped
        // the partition's sequence back: a producer started afresh (a new producer id) sends it again,
        // with the same mid, rather than one whose next records the broker could take for duplicates.
        await this.reset()
        await this.partitionFailed(partition, [send, ...sends].flat(), err)
        return { kind: 'failed', recorded }
      }
      const at = new Date()
      recorded.push(...(await this.records.recordAll(send.map((entry) => ({ entry, at })))))
      if (this.records.owes()) return { kind: 'unrecorded', recorded }
    }
    this.partitionWaits.sent(partition)
    return { kind: 'sent', recorded }
  }

  /** Kafka could not be reached: every entry not sent waits for the next pass after a wait (options.backoff, BACKOFF by default) that grows while it stays so. */
  private async unreachable(entries: readonly OutboxEntry[], err: unknown): Promise<void> {
    this.backoff.failed(Date.now())
    await this.notPublished(entries, err)
  }

  /** A send of a partition's events failed: that partition waits (options.backoff, BACKOFF by default), its events passed by until then (PartitionWaits). */
  private async partitionFailed(partition: number, entries: readonly OutboxEntry[], err: unknown): Promise<void> {
    this.partitionWaits.failed(partition, entries, Date.now())
    await this.notPublished(entries, err)
  }

  private async notPublished(entries: readonly OutboxEntry[], err: unknown): Promise<void> {
    this.deps.metrics?.countEventPublishFailures('kafka', entries.length)
    for (const entry of entries) {
      await this.deps.outbox.attemptFailed(entry)
      this.deps.log.warn({ requestId: entry.requestId, mid: entry.mid, err: messageOf(err) }, 'event not published yet')
    }
  }

  /** What the listing held at this pass's read, less what the pass published: how many wait, and since when the oldest. */
  private reportWaiting(page: OutboxPage, recorded: readonly string[]): void {
    if (!this.deps.metrics) return
    const published = new Set(recorded)
    let count = 0
    let oldest: Date | undefined
    for (const requestId of page.listed) {
      if (published.has(requestId)) continue
      count++
      const at = page.listedAt.get(requestId)
      if (at && (!oldest || at < oldest)) oldest = at
    }
    this.deps.metrics.setEventsWaiting(count, oldest)
  }

  /**
   * The topic takes less than maxSendBytes (its max.message.bytes, or a broker's, is lower): the
   * sends that follow are cut to half of the one refused, so each pass does not meet the refusal
   * again. Kept until the process restarts; reported so that EVENT_RELAY_MAX_SEND_BYTES is set right.
   */
  private lowerSendBytes(refusedBytes: number): void {
    const lowered = Math.max(SMALLEST_SEND_BYTES, Math.floor(refusedBytes / 2))
    if (lowered >= this.maxSendBytes) return
    this.maxSendBytes = lowered
    this.deps.log.warn({ refusedBytes, maxSendBytes: lowered }, "a send was too large for the topic; sending less at a time (lower EVENT_RELAY_MAX_SEND_BYTES below the topic's max.message.bytes)")
  }

  /**
   * The events this pass passes by unread: those of a partition still waiting after a failed send,
   * the held-back events still waiting, and those whose wait is over beyond the
   * HELD_BACK_RETRIES_PER_PASS ready longest, which wait for a later pass.
   */
  private passedBy(now: number): Set<string> {
    return new Set([...this.partitionWaits.passedBy(now), ...this.heldBack.passedBy(now)])
  }

  /**
   * An event Kafka refused alone as too large: it stays in the outbox (its attempts counted), is
   * reported once (its request id and size, nothing of its content), and waits TOO_LARGE_BACKOFF
   * (spread at random) before it is sent again, e.g. once the topic's max.message.bytes is raised.
   */
  private async holdBack(entry: OutboxEntry, now: number): Promise<void> {
    if (this.heldBack.hold(entry.requestId, now)) {
      this.deps.log.error({ requestId: entry.requestId, bytes: recordBatchBytes([entry]) }, 'event too large for the topic; held back in the outbox')
      this.deps.metrics?.countEventTooLarge()
      this.deps.metrics?.setEventsHeldBack(this.heldBack.size)
    }
    await this.deps.outbox.attemptFailed(entry)
  }

  /**
   * After a page read from the listing's start to its end (`listed`: every id it gave, read, passed
   * by or past the page): a held-back event, or one waiting for its partition, not in it is no longer listed
   * (published by another instance, or by `npm run deletion:resume`), and no longer kept.
   */
  private forgetUnlisted(listed: readonly string[]): void {
    const still = new Set(listed)
    this.partitionWaits.forgetUnlisted(still)
    if (this.heldBack.size === 0) return
    this.heldBack.forgetUnlisted(still)
    this.deps.metrics?.setEventsHeldBack(this.heldBack.size)
  }

  /**
   * The request first, the outbox entry after: an entry stays listed until its request says
   * published, so a failure between the two (Cassandra gone for a moment) only records it again,
   * and never leaves a request whose event is on the topic saying "queued".
   */
  private async record(entry: OutboxEntry, at: Date): Promise<void> {
    await this.deps.published(entry.requestId, at)
    await this.deps.outbox.markPublished(entry.requestId, at)
    this.partitionWaits.forget(entry.requestId)
    if (this.heldBack.forget(entry.requestId)) this.deps.metrics?.setEventsHeldBack(this.heldBack.size)
    this.deps.log.info({ requestId: entry.requestId, mid: entry.mid, topic: this.options.topic }, 'event published')
  }

  /**
   * A pass with nothing to send: the topic's durability checked again once that check is
   * topicRecheckMs old (TopicDurabilityWatch.recheckIdle). As at a connect, the topic's partitions
   * not read (Kafka unreachable, the topic gone) count on the relay's backoff: the passes that follow
   * wait as after a failed connect; read, the backoff starts over.
   */
  private async recheckIdle(now: number, stopping?: AbortSignal): Promise<void> {
    const topic = await this.durability.recheckIdle(now, stopping)
    if (topic === 'read') this.backoff.succeeded()
    else if (topic === 'not read') this.backoff.failed(Date.now())
  }

  /**
   * The topic read again on a connection older than topicRecheckMs, when a pass has events to send
   * (an idle relay checks only its durability: recheckIdle; a send that failed, e.g. UNKNOWN_TOPIC_OR_PARTITION or
   * NOT_ENOUGH_REPLICAS, already drops the connection, and the next connect reads the topic afresh).
   * Gone, unreadable, or with another partition count: the connection is dropped (returns false), so
   * that the connect that follows reads and judges it as at start-up: a topic gone fails it and every
   * event waits, as when Kafka is down; a new count gets a new producer, whose own metadata then holds
   * it too. Otherwise its durability is judged again, said only when what was read changed.
   */
  private async recheckTopic(connection: Connection, now: number): Promise<boolean> {
    let partitions: PartitionMetadata[]
    try {
      partitions = await this.topicPartitions()
    } catch {
      await this.reset()
      return false
    }
    if (partitions.length !== connection.partitionCount) {
      await this.reset()
      return false
    }
    connection.checkedAt = now
    await this.durability.check(partitions, 'when-changed')
    return true
  }

  /** The producer, connected, and the topic's partitions, asked once per connect (and again every topicRecheckMs: recheckTopic), with its durability judged. */
  private async connect(): Promise<Connection> {
    if (this.connection) return this.connection
    this.connecting ??= (async () => {
      const producer = this.createProducer()
      await producer.connect()
      let partitions: PartitionMetadata[]
      let partitionOf: PartitionOf
      try {
        partitions = await this.topicPartitions()
        partitionOf = partitionerFor(this.options.topic, partitions)
        await this.durability.check(partitions, 'always')
      } catch (err) {
        await producer.disconnect().catch(() => undefined)
        throw err
      }
      this.connection = { producer, partitionOf, partitionCount: partitions.length, checkedAt: Date.now() }
      return this.connection
    })().finally(() => {
      this.connecting = undefined
    })
    return this.connecting
  }

  private async reset(): Promise<void> {
    const connection = this.connection
    this.connection = undefined
    await connection?.producer.disconnect().catch(() => undefined)
  }
}
