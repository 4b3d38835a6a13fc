import type { Caller } from './caller.js'
import { authorizedCondition, type DeleteUserDeps } from './delete-user.js'
import type { DeletionRequest } from './deletion-request.js'
import { UserNotFoundError } from './errors.js'
import type { JsonValue } from './ports.js'
import { deletionSteps } from './steps/index.js'
import type { DecryptUserField } from './sunbird-decryption.js'

/** A decryption that counts the values it was given and those that did not decrypt; none when there is no key. */
function countingDecryption(decrypt: DecryptUserField | undefined) {
  const counts = { read: 0, notDecrypted: 0, decrypt: undefined as DecryptUserField | undefined }
  if (decrypt)
    counts.decrypt = (stored) => {
      counts.read++
      const plain = decrypt(stored)
      if (plain === undefined) counts.notDecrypted++
      return plain
    }
  return counts
}

export interface ExportUserInput {
  /** The call's id: it names the audit record of the export. */
  requestId: string
  userId: string
  caller: Caller
}

export interface UserExport {
  /** What each store holds about the person, by section (row, lookups, externalIdentities, organisations, roles, managedUserIds, keycloak). */
  sections: Record<string, JsonValue>
  /** Every deletion request recorded for the person, newest first. */
  deletionRequests: DeletionRequest[]
}

/**
 * Everything this service can reach about a person, for the person (Art. 15 and 20): each
 * step's store contributes its own section (exportData), so a new store is exported by declaring
 * it. Same authorization as a deletion. A soft-deleted user can still be exported; an erased one
 * (Sunbird's deletion, or hard) is a user that does not exist. The export itself is audited (ids only).
 */
export async function exportUser(deps: DeleteUserDeps, input: ExportUserInput): Promise<UserExport> {
  const condition = await authorizedCondition(deps, input)
  if (condition.kind !== 'active' && condition.kind !== 'soft') throw new UserNotFoundError()

  const sections: Record<string, JsonValue> = {}
  const decryption = countingDecryption(deps.decryptUserField)
  const exportDeps = { ...deps, decryptUserField: decryption.decrypt }
  for (const step of deletionSteps) if ('exportData' in step) Object.assign(sections, await step.exportData({ deps: exportDeps, userId: input.userId }))
  // A wrong key (or values stored plain) gives the person stored values: told as a deletion tells it, counts only.
  if (decryption.notDecrypted > 0) deps.onContactsNotDecrypted?.(input.requestId, decryption.notDecrypted, decryption.read)
  const deletionRequests = await deps.requests.findByUser(input.userId, 100)
  const at = deps.clock.now().toISOString()
  await deps.audit.append({ event: 'user.exported', requestId: input.requestId, userId: input.userId, requestedBy: input.caller.userId, at })
  return { sections, deletionRequests }
}
