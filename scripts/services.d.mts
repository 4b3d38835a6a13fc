// Types for scripts/services.mjs (plain JS so it runs before dependencies are installed).
export type ServiceName = 'cassandra' | 'keycloak' | 'kafka' | 'opensearch' | 'redis'
export type ClusterName = 'cassandra' | 'kafka'
export interface MemberResult {
  label: string
  host: string
  state: string
  pid: number | null
  seconds?: number
}
export interface ServiceResult {
  name: ServiceName
  state: string
  pid: number | null
  port: number
  seconds?: number
  topology?: 'single' | 'cluster'
  members?: MemberResult[]
}
export interface ServiceStatus {
  name: ServiceName
  label: string
  host: string
  up: boolean
  port: number
  pid: number | null
  rssMiB: number | null
}
export interface ServicesOptions {
  log?: (msg: string) => void
  /** Overrides CASSANDRA_NODES. */
  cassandraNodes?: number
  /** Overrides KAFKA_BROKERS. */
  kafkaBrokers?: number
}
export const NAMES: readonly ServiceName[]
export function getConfig(env?: NodeJS.ProcessEnv, options?: { cassandraNodes?: number; kafkaBrokers?: number }): {
  installDir: string
  runDir: string
  cassandra: { nodes: number; port: number; storagePort: number; jmxPort: number; version: string }
  keycloak: { port: number; managementPort: number; realm: string; version: string }
  kafka: { brokers: number; port: number; controllerPort: number; topic: string; version: string }
  opensearch: { port: number; transportPort: number; version: string }
  redis: { host: string; port: number }
  service: { port: number }
}
/** Every port number the layout takes, with the variable (or rule) that gives it. */
export function layoutPorts(config: ReturnType<typeof getConfig>): { port: number; name: string }[]
/** One sentence per clash (two variables on one port, or a port outside 1–65535); up() refuses to start on any. */
export function portClashes(config: ReturnType<typeof getConfig>): string[]
export function up(names?: ServiceName[], opts?: ServicesOptions): Promise<Record<string, ServiceResult>>
export function down(names?: ServiceName[], opts?: ServicesOptions): Promise<Record<string, ServiceResult>>
export function status(names?: ServiceName[], opts?: ServicesOptions): Promise<ServiceStatus[]>
export function connectionInfo(names?: ServiceName[], opts?: ServicesOptions): string[]
export function stopNode(name: ClusterName, index: number, opts?: ServicesOptions & { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<MemberResult>
export function startNode(name: ClusterName, index: number, opts?: ServicesOptions): Promise<MemberResult>
export function waitForCluster(name: ClusterName, opts?: ServicesOptions & { timeoutMs?: number }): Promise<unknown>
export function cassandraRing(index?: number, opts?: ServicesOptions): Promise<{ state: string; address: string }[]>
