import { Client } from '@opensearch-project/opensearch'
import type { Config } from '../config/config.js'

/**
 * Sunbird's sunbird_es_host / sunbird_es_port as node URLs: each host on the HTTP port as given
 * (plain http, as Sunbird's own client builds them), or as written when it carries a scheme.
 */
export function searchNodeUrls(config: Config['search']): string[] {
  return config.hosts.map((host) => (/^https?:\/\//.test(host) ? host.replace(/\/+$/, '') : `http://${host}:${config.port}`))
}

export function isSearchConfigured(config: Config['search']): boolean {
  return config.hosts.length > 0
}

/**
 * One client for the process. @opensearch-project/opensearch speaks to OpenSearch and to
 * Elasticsearch 7 alike (Elastic's own 7.x client refuses anything that is not Elasticsearch).
 * Requests are bounded; retries are left to the callers' own retry loops (the sweeper).
 */
export function createSearchClient(config: Config['search']): Client {
  if (!isSearchConfigured(config)) throw new Error('search is not configured (sunbird_es_host is empty)')
  return new Client({ nodes: searchNodeUrls(config), requestTimeout: config.timeoutMs, pingTimeout: config.timeoutMs, maxRetries: 0 })
}

export interface SearchHealth {
  /** The engine answered. */
  reachable: boolean
  /** The alias the service reads and writes resolves to an index (db:migrate created it). */
  aliasReady: boolean
}

/** Whether the engine answers and `alias` exists; never throws. */
export async function checkSearch(client: Client, alias: string): Promise<SearchHealth> {
  try {
    const { body } = await client.indices.existsAlias({ name: alias })
    return { reachable: true, aliasReady: body === true }
  } catch {
    return { reachable: false, aliasReady: false }
  }
}
