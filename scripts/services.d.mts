// Types for scripts/services.mjs (plain JS so it runs before dependencies are installed).
export type ServiceName = 'cassandra' | 'keycloak' | 'kafka'
export interface ServiceResult {
  name: ServiceName
  state: string
  pid: number | null
  port: number
  seconds?: number
}
export interface ServiceStatus {
  name: ServiceName
  up: boolean
  port: number
  pid: number | null
}
export const NAMES: readonly ServiceName[]
export function up(names?: ServiceName[], opts?: { log?: (msg: string) => void }): Promise<Record<string, ServiceResult>>
export function down(names?: ServiceName[], opts?: { log?: (msg: string) => void }): Promise<Record<string, ServiceResult>>
export function status(names?: ServiceName[]): Promise<ServiceStatus[]>
export function connectionInfo(names?: ServiceName[]): string[]
