/**
 * The cluster suite's layout: a 3-node Cassandra (one datacenter) and a 3-broker Kafka on
 * 127.0.0.1-3, on the ports of the single-node setup (CASSANDRA_PORT, KAFKA_PORT), and the env that
 * points the service, db:migrate and scripts/services.mjs at them.
 */
export const CLUSTER_SIZE = 3
export const CLUSTER_HOSTS = Array.from({ length: CLUSTER_SIZE }, (_, i) => `127.0.0.${i + 1}`)
export const CASSANDRA_PORT = Number(process.env.CASSANDRA_PORT ?? process.env.sunbird_cassandra_port ?? '9042')
export const KAFKA_PORT = Number(process.env.KAFKA_PORT ?? '19092')
export const CLUSTER_BROKERS = CLUSTER_HOSTS.map((host) => `${host}:${KAFKA_PORT}`)
export const CLUSTER_REPLICATION = { class: 'NetworkTopologyStrategy', datacenter1: CLUSTER_SIZE }

export function clusterEnv(): Record<string, string> {
  return {
    CASSANDRA_NODES: String(CLUSTER_SIZE),
    KAFKA_BROKERS: String(CLUSTER_SIZE),
    sunbird_cassandra_host: CLUSTER_HOSTS.join(','),
    sunbird_cassandra_port: String(CASSANDRA_PORT),
    CASSANDRA_REPLICATION: JSON.stringify(CLUSTER_REPLICATION),
    kafka_urls: CLUSTER_BROKERS.join(','),
  }
}
