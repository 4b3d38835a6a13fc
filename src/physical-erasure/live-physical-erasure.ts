import type { Client as SearchClient } from '@opensearch-project/opensearch'
import type { Client } from 'cassandra-driver'
import kafkajs, { Kafka, logLevel } from 'kafkajs'
import type { PhysicalErasure } from '../deletion/ports.js'
import { NOTES_INDEX, USER_ALIAS } from '../search/sunbird-indexes.js'

type Horizon = { by?: string; how: string }

export interface LivePhysicalErasureDeps {
  cassandra: Client
  keyspace: string
  /** The search engine, when configured. */
  search?: SearchClient | undefined
  /** The topic the delete-user event goes to, and where Kafka answers. */
  events: { brokers: readonly string[]; topic: string; timeoutMs: number }
  /** Whether a Redis user cache is configured. */
  redis: boolean
  /** How long a receipt waits for the settings (default 1.5 s). */
  budgetMs?: number
}

type TableSettings = { gcGrace: number; compaction: string }
type TopicSettings = { retentionMs: number; segmentMs: number; cleanupPolicy: string }

/** The broker's log.retention.check.interval.ms by default: how often it looks for segments past retention. */
const RETENTION_CHECK_MS = 300_000

/** How long a table's or topic's settings are trusted: they change by an operator's hand, rarely. */
const SETTINGS_FRESH_MS = 300_000

const later = (at: Date, ms: number) => new Date(at.getTime() + ms).toISOString()

/** The table a receipt store names (its part, e.g. ` (managed users)`, taken off): cassandra.<table> or cassandra.<keyspace>.<table>. */
function cassandraTable(store: string, keyspace: string): { keyspace: string; table: string } | undefined {
  const match = /^cassandra\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?$/.exec(store)
  if (!match?.[1]) return undefined
  return match[2] ? { keyspace: match[1], table: match[2] } : { keyspace, table: match[1] }
}

/**
 * When each store will have dropped the old values physically, from the live settings: a
 * Cassandra table keeps overwritten and deleted cells in its SSTables until a compaction after
 * gc_grace_seconds; a search index keeps a deleted or replaced document in its segments until they
 * merge (no date can be promised, only how to force it); a Kafka topic keeps an event until its
 * segment's newest record is past retention.ms (a compacted topic, with no date); Redis drops a key
 * from memory at once. A store whose settings cannot be read is
 * left out: the receipt then says nothing rather than a guess.
 */
export class LivePhysicalErasure implements PhysicalErasure {
  /** The topic's settings, read at most every few minutes: a deletion must not wait on a Kafka admin round trip each time. */
  private topicSettings: { settings: TopicSettings | undefined; readAt: number } | undefined
  /**
   * Each table's settings, read at most every few minutes and shared by the stores naming the same
   * table: a receipt names about twenty, and reading system_schema for each on every deletion cost
   * the shared cluster more statements than the deletion's own erasure.
   */
  private readonly tableSettings = new Map<string, { settings: Promise<TableSettings | undefined>; readAt: number }>()

  constructor(private readonly deps: LivePhysicalErasureDeps) {}

  /** Within a time budget: the receipt is written on the deletion's own path, so a slow store is left out rather than waited for. */
  async horizons(stores: readonly string[], at: Date): Promise<Record<string, Horizon>> {
    const result: Record<string, Horizon> = {}
    const all = Promise.all(
      stores.map(async (store) => {
        const horizon = await this.horizonOf(store, at).catch(() => undefined)
        if (horizon) result[store] = horizon
      }),
    )
    let timer: NodeJS.Timeout | undefined
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.deps.budgetMs ?? 1500)
    })
    await Promise.race([all, budget]).finally(() => clearTimeout(timer))
    return { ...result }
  }

  private async horizonOf(store: string, at: Date): Promise<Horizon | undefined> {
    // A store named for a part of the deletion (`search.user_alias (managed users)`) keeps its store's horizon.
    const named = store.replace(/ \(.*\)$/, '')
    if (named === 'search.user_alias') return this.searchHorizon(USER_ALIAS)
    if (named === 'search.usernotes') return this.searchHorizon(NOTES_INDEX)
    if (named === 'redis.user') {
      if (!this.deps.redis) return undefined
      return { by: at.toISOString(), how: 'removed from memory at once; an RDB snapshot or AOF file written before keeps it until the next BGSAVE / BGREWRITEAOF' }
    }
    if (named.startsWith('kafka')) return this.topicHorizon(at)
    const table = cassandraTable(named, this.deps.keyspace)
    return table && this.tableHorizon(table, at)
  }

  private async tableHorizon({ keyspace, table }: { keyspace: string; table: string }, at: Date): Promise<Horizon | undefined> {
    const found = await this.settingsOf(keyspace, table)
    if (!found) return undefined
    const { gcGrace, compaction } = found
    return {
      by: later(at, gcGrace * 1000),
      how:
        `old values stay in SSTables until gc_grace_seconds (${gcGrace} s) has passed and a compaction (${compaction}) merges them; ` +
        `after that date "nodetool compact ${keyspace} ${table}" (or garbagecollect) on every node drops them at once`,
    }
  }

  private settingsOf(keyspace: string, table: string): Promise<TableSettings | undefined> {
    const key = `${keyspace}.${table}`
    const cached = this.tableSettings.get(key)
    if (cached && Date.now() - cached.readAt < SETTINGS_FRESH_MS) return cached.settings
    const settings = this.readTableSettings(keyspace, table)
    this.tableSettings.set(key, { settings, readAt: Date.now() })
    // A failed read is not kept: the next receipt asks again.
    settings.catch(() => this.tableSettings.delete(key))
    return settings
  }

  private async readTableSettings(keyspace: string, table: string): Promise<TableSettings | undefined> {
    const row = (
      await this.deps.cassandra.execute('SELECT gc_grace_seconds, compaction FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [keyspace, table], { prepare: true })
    ).first()
    if (!row) return undefined
    return {
      gcGrace: Number(row.get('gc_grace_seconds')),
      compaction: ((row.get('compaction') as Record<string, string> | null)?.class ?? 'unknown').replace(/^org\.apache\.cassandra\.db\.compaction\./, ''),
    }
  }

  private async searchHorizon(alias: string): Promise<Horizon | undefined> {
    const search = this.deps.search
    if (!search) return undefined
    const { body } = await search.indices.getSettings({ index: alias, include_defaults: true, flat_settings: true })
    const [index, found] = Object.entries(body as Record<string, { settings?: Record<string, string>; defaults?: Record<string, string> }>)[0] ?? []
    if (!index || !found) return undefined
    const setting = (name: string) => found.settings?.[name] ?? found.defaults?.[name] ?? 'default'
    return {
      how:
        `gone from searches at the next refresh (index.refresh_interval ${setting('index.refresh_interval')}); the old document stays in segment files of ${index} until they merge ` +
        `(index.merge.policy.deletes_pct_allowed ${setting('index.merge.policy.deletes_pct_allowed')}), which has no date; "POST ${index}/_forcemerge?only_expunge_deletes=true" drops it at once`,
    }
  }

  private async topicHorizon(at: Date): Promise<Horizon | undefined> {
    const fresh = this.topicSettings && Date.now() - this.topicSettings.readAt < (this.topicSettings.settings === undefined ? 30_000 : SETTINGS_FRESH_MS)
    if (!fresh) this.topicSettings = { settings: await this.readTopicSettings().catch(() => undefined), readAt: Date.now() }
    const settings = this.topicSettings?.settings
    if (!settings) return undefined
    const { topic } = this.deps.events
    const { retentionMs, segmentMs, cleanupPolicy } = settings
    // A compacted topic drops a record only for a later one of the same key: no date can be promised.
    if (!cleanupPolicy.split(',').some((policy) => policy.trim() === 'delete')) {
      return { how: `topic ${topic} is compacted (cleanup.policy ${cleanupPolicy}): the event stays until compaction keeps a later record of the same key (the user id) instead, which has no date` }
    }
    if (retentionMs === -1) return { how: `topic ${topic} keeps its events for ever (retention.ms -1): set a retention.ms on it, or remove the records with kafka-delete-records` }
    return {
      // Kafka deletes whole segments once their newest record is past retention.ms, and the event's
      // segment takes records for up to segment.ms after it opened: the later of the two bounds it.
      by: later(at, segmentMs + retentionMs + RETENTION_CHECK_MS),
      how:
        `the event stays in topic ${topic} until its log segment's newest record is older than retention.ms (${retentionMs} ms): ` +
        `the segment takes records for up to segment.ms (${segmentMs} ms), and the broker looks every log.retention.check.interval.ms (5 min by default); ` +
        'counted from the end of the deletion, later by as long as the event waited for Kafka; a lower retention.ms or segment.ms on the topic shortens it',
    }
  }

  private async readTopicSettings(): Promise<TopicSettings | undefined> {
    const { brokers, topic, timeoutMs } = this.deps.events
    const admin = new Kafka({
      clientId: 'sunbird-user-delete-settings',
      brokers: [...brokers],
      connectionTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin()
    try {
      await admin.connect()
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'segment.ms', 'cleanup.policy'] }],
      })
      const value = (name: string) => resources[0]?.configEntries.find((entry) => entry.configName === name)?.configValue?.trim() || undefined
      // A setting with no value is no 0: the receipt says nothing rather than a date too early.
      const retentionMs = Number(value('retention.ms') ?? Number.NaN)
      const segmentMs = Number(value('segment.ms') ?? Number.NaN)
      const cleanupPolicy = value('cleanup.policy')
      if (!cleanupPolicy || !(retentionMs >= -1) || !(segmentMs >= 0)) return undefined
      return { retentionMs, segmentMs, cleanupPolicy }
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  }
}
