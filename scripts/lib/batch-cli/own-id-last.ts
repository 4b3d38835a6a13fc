import { userIdFromSubject } from '../../../src/auth/user-token-verifier.js'
import { MAX_IDS_PER_JOB } from './batch-api.js'
import type { IdsFile } from './ids-file.js'

/** The file's ids in the order its jobs take them (MAX_IDS_PER_JOB a job, in this order). */
export interface SubmitOrder extends IdsFile {
  /** The line of the caller's own id, when it is held back for the last job (see ownIdLast); else undefined. */
  ownLine?: number
}

/**
 * The service deletes a job's creator's own account last within that job, and that deletion locks
 * the creator out of every job still running. A file of several jobs listing the caller's own id
 * (`ownId`, read as the service reads a userId) therefore has it moved to the end, so it lands in
 * the last job, which submitAll sends only once every other job is settled. Moved, not sent as a
 * job of its own: the file still makes as many jobs, and the same file with the same token always
 * makes the same jobs, so a run again under --idempotency-key sends each job's ids under its key.
 * A file of one job, or one without the own id, keeps its order.
 */
export function ownIdLast(file: IdsFile, ownId: string | undefined): SubmitOrder {
  if (ownId === undefined || file.ids.length <= MAX_IDS_PER_JOB) return file
  const at = file.ids.findIndex((id) => userIdFromSubject(id) === ownId)
  if (at < 0) return file
  const moved = <T>(list: T[]): T[] => [...list.slice(0, at), ...list.slice(at + 1), list[at] as T]
  return { ...file, ids: moved(file.ids), lines: moved(file.lines), ownLine: file.lines[at] }
}
