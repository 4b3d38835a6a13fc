import type { ServiceConfiguration } from '../schemas/schema-types.js'

/** `T` with every property, at every depth, read-only (arrays and tuples too). */
export type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

/**
 * The validated configuration: the type `npm run schemas:types` generates from schemas/config.json
 * (each setting's meaning is its `description` there), frozen by loadConfig. Beyond the schema,
 * loadConfig resolves `events.topic` (never empty: `<env>.delete.user` when unset), lists given
 * comma-separated, the SSO URL (no trailing `/`) and relative paths (from the project folder).
 */
export type Config = DeepReadonly<ServiceConfiguration>

export type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? (T[K] extends readonly unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] }
