import type { OperationServices } from '../../src/http/operation.js'

const unused = () => Promise.reject(new Error('not used by this test'))

/** Services for a test of the HTTP layer alone: every deletion service refuses to be called; the service reads ready. */
export const unusedServices: OperationServices = {
  deleteAccount: unused,
  cancelDeletion: unused,
  exportUser: unused,
  readDeletionStatus: unused,
  submitBatch: unused,
  readBatchStatus: unused,
  cancelBatch: unused,
  checkReadiness: async () => [],
}
