import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, register as processRegistry } from 'prom-client'
import type { CassandraCallOutcome, CassandraCallRecorder } from './cassandra-call-recorder.js'
import { type RequestLabels, RequestSeries } from './request-series.js'
import type { DeletionErrorKind } from '../deletion/errors.js'

export type DeletionOutcome = 'success' | DeletionErrorKind | 'error'
/** Why the relay could not publish an event in a pass: Kafka did not take it (unreachable, or its partition failing), or Kafka took it and Cassandra did not record that. */
export type EventPublishFailure = 'kafka' | 'record'
export type KeycloakCallOutcome = 'deleted' | 'disabled' | 'enabled' | 'absent' | 'found' | 'unavailable' | 'error'

const PREFIX = 'sunbird_user_delete_'

/**
 * The service's Prometheus series, in a registry of its own: every composed service counts only
 * its own traffic (the tests compose several in one process). Process-level series (CPU, memory,
 * event loop, GC) exist once per process and are added when the page is rendered.
 */
export class ServiceMetrics implements CassandraCallRecorder {
  readonly registry = new Registry()
  readonly contentType = this.registry.contentType

  /** Every answer counts once in both: kept apart from prom-client's label hashing, which costs every request (request-series.ts). */
  private readonly requests = new RequestSeries(
    this.registry,
    { name: `${PREFIX}http_requests_total`, help: 'HTTP requests answered, by route, status and Sunbird err code' },
    {
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'Time from the first byte of the request to the answer, by route, status and Sunbird err code',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    },
  )

  private readonly cassandraSeconds = new Histogram({
    name: `${PREFIX}cassandra_call_duration_seconds`,
    help: 'Cassandra calls by outcome (ok; unavailable: unreachable, timed out, overloaded, or a replica failed the read or write, ReadFailure or WriteFailure; error: anything else)',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })

  private readonly cassandraFailures = new Counter({
    name: `${PREFIX}cassandra_call_failures_total`,
    help: 'Cassandra calls that failed, by reason (unavailable: unreachable, timed out, overloaded, or a replica failed the read or write; error: anything else)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })

  private readonly keycloakSeconds = new Histogram({
    name: `${PREFIX}keycloak_call_duration_seconds`,
    help: 'Keycloak admin calls by operation and outcome (retries included)',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })

  private readonly keycloakFailures = new Counter({
    name: `${PREFIX}keycloak_call_failures_total`,
    help: 'Keycloak admin calls that failed, by operation and reason (unavailable, error)',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  })

  private readonly batchBreaker = new Counter({
    name: `${PREFIX}batch_breaker_transitions_total`,
    help: 'Circuit breaker changes of batch deletion jobs on this instance (opened: job paused; closed: resumed)',
    labelNames: ['change'] as const,
    registers: [this.registry],
  })

  private readonly eventsTooLarge = new Counter({
    name: `${PREFIX}events_too_large_total`,
    help: 'Delete-user events Kafka refused as larger than the topic takes, once per event on this instance (each stays in the outbox)',
    registers: [this.registry],
  })

  private readonly eventsHeld = new Gauge({
    name: `${PREFIX}events_held_back`,
    help: 'Delete-user events this instance holds back in the outbox because Kafka refused them as too large; retried every 15 minutes at most',
    registers: [this.registry],
  })

  private readonly eventPublishFailures = new Counter({
    name: `${PREFIX}events_publish_failures_total`,
    help: "Delete-user events the relay could not publish in a pass, by reason (kafka: Kafka unreachable or the event's partition failing; record: on the topic, its publication not recorded in Cassandra); each stays in the outbox",
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })

  private readonly eventsWaiting = new Gauge({
    name: `${PREFIX}events_waiting`,
    help: "Delete-user events waiting in the outbox (held-back ones included) at this instance's relay's last read of the listing; at least that many when a backlog is longer than a read (a page of 100 and the events it passes by)",
    registers: [this.registry],
  })

  private readonly eventsTopicAtRisk = new Gauge({
    name: `${PREFIX}events_topic_at_risk`,
    help: "1 when the event topic, as this instance's relay last read it at connect, can lose an event Kafka acknowledged (one replica on a cluster of several brokers, or min.insync.replicas 1) or refuses events while one broker is down (min.insync.replicas not below its replication factor); else 0",
    registers: [this.registry],
  })

  /** When the oldest event the relay's last read found waiting was appended (ms since the epoch). */
  private oldestWaitingSince: number | undefined

  /** Worked out at each scrape, so it keeps growing while the relay waits between tries and reads nothing. */
  private readonly oldestWaiting = new Gauge({
    name: `${PREFIX}events_oldest_waiting_seconds`,
    help: "Age of the oldest delete-user event waiting in the outbox at this instance's relay's last read of the listing (0 when none)",
    registers: [this.registry],
    collect: () => {
      this.oldestWaiting.set(this.oldestWaitingSince === undefined ? 0 : Math.max(0, (Date.now() - this.oldestWaitingSince) / 1000))
    },
  })

  private readonly unreadableReceipts = new Counter({
    name: `${PREFIX}unreadable_receipts_total`,
    help: 'Deletion requests whose stored receipt this instance could not read (not JSON, or not shaped as a receipt: the row was changed or damaged), once per request; each is answered and resumed without it',
    registers: [this.registry],
  })

  private readonly deletions = new Counter({
    name: `${PREFIX}deletions_total`,
    help: 'Deletion attempts that passed authentication and validation, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })

  observeRequest(labels: RequestLabels, seconds: number): void {
    this.requests.observe(labels, seconds)
  }

  observeCassandraCall(outcome: CassandraCallOutcome, seconds: number): void {
    this.cassandraSeconds.observe({ outcome }, seconds)
    if (outcome !== 'ok') this.cassandraFailures.inc({ reason: outcome })
  }

  observeKeycloakCall(operation: string, outcome: KeycloakCallOutcome, seconds: number): void {
    this.keycloakSeconds.observe({ operation, outcome }, seconds)
    if (outcome === 'unavailable' || outcome === 'error') this.keycloakFailures.inc({ operation, reason: outcome })
  }

  countBatchBreaker(change: 'opened' | 'closed'): void {
    this.batchBreaker.inc({ change })
  }

  countDeletion(outcome: DeletionOutcome): void {
    this.deletions.inc({ outcome })
  }

  /** A deletion request's stored receipt could not be read: once per request. */
  countUnreadableReceipt(): void {
    this.unreadableReceipts.inc()
  }

  /** The relay met an event Kafka refused as too large for the topic: once per event. */
  countEventTooLarge(): void {
    this.eventsTooLarge.inc()
  }

  /** How many events the relay holds back now, refused as too large. */
  setEventsHeldBack(count: number): void {
    this.eventsHeld.set(count)
  }

  /** The relay could not publish `events` in a pass, for `reason`. */
  countEventPublishFailures(reason: EventPublishFailure, events: number): void {
    if (events > 0) this.eventPublishFailures.inc({ reason }, events)
  }

  /** What the relay's last read of the outbox listing found waiting: how many, and when the oldest was appended (undefined when none). */
  setEventsWaiting(count: number, oldestSince: Date | undefined): void {
    this.eventsWaiting.set(count)
    this.oldestWaitingSince = oldestSince?.getTime()
  }

  /** What the relay's check at connect found of the event topic: whether it can lose acknowledged events or stop with one broker down. */
  setEventsTopicAtRisk(atRisk: boolean): void {
    this.eventsTopicAtRisk.set(atRisk ? 1 : 0)
  }

  /** The text exposition format: this service's series, then the process's. */
  async render(): Promise<string> {
    ensureProcessMetrics()
    return Registry.merge([this.registry, processRegistry]).metrics()
  }
}

let processMetricsStarted = false

/** prom-client's default metrics, started once per process on first scrape, in its default registry. */
function ensureProcessMetrics(): void {
  if (processMetricsStarted) return
  processMetricsStarted = true
  collectDefaultMetrics({ register: processRegistry })
}

export function createServiceMetrics(): ServiceMetrics {
  return new ServiceMetrics()
}
