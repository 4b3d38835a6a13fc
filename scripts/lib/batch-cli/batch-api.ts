import { sharedSchemaRegistry } from '../../../src/schemas/schema-registry.js'
import type { BatchDeletionAccepted, BatchDeletionCancelled, BatchDeletionStatus } from '../../../src/schemas/schema-types.js'

export const SUBMIT_PATH = '/api/user/v1/delete/batch'
export const STATUS_PATH = '/api/user/v1/delete/batch/status'
export const CANCEL_PATH = '/api/user/v1/delete/batch/cancel'
/** The most ids one job takes; a status read asks for as many outcomes, so one page holds a whole job's. */
export const MAX_IDS_PER_JOB = 1000

/** The service's code for a job id it has no job of (404): a status read or a cancel of it. */
export const JOB_NOT_FOUND = 'UOS_USRDLT0101'
/** Said after a job not found: what to check, the job being no job of the service that answered. */
export const NOT_FOUND_HINT = 'check the job id and --url (the service that answered has no such job)'

/** A status answer's `result`, as its schema defines it. */
export type Status = NonNullable<BatchDeletionStatus['result']>
export type Accepted = NonNullable<BatchDeletionAccepted['result']>
export type Cancelled = NonNullable<BatchDeletionCancelled['result']>

/** The service's own schemas: the CLI checks ids and answers as the service defines them. */
export const schemas = sharedSchemaRegistry()
// The CLI reads only `result`; the envelope around it is the service's to get right (its contract tests check it).
export const isStatus = schemas.validator<Status>('user-delete-batch-status.response#/properties/result')
export const isAccepted = schemas.validator<Accepted>('user-delete-batch.response#/properties/result')
export const isCancelled = schemas.validator<Cancelled>('user-delete-batch-cancel.response#/properties/result')
