/** A role from Sunbird's `roles` token claim: `{ role: "ORG_ADMIN", scope: [{ organisationId }] }`. */
export interface ScopedRole {
  role: string
  organisationIds: string[]
}

/** The verified identity behind a request. Ids only: no names, emails or tokens. */
export interface Caller {
  /** The API consumer named by the gateway JWT. */
  consumer: string
  /** The end user of X-Authenticated-User-token. */
  userId: string
  roles: ScopedRole[]
  /** Present when X-Authenticated-For carried a managed user's token, verified. */
  managedUser?: { userId: string; parentId: string }
  /** When the end user last logged in (`auth_time`, seconds), if their token says: for step-up. */
  authTime?: number
  /** The identity provider's session of the end user's token (`sid`). */
  sessionId?: string
  /**
   * A gateway consumer trusted to delete any user (`deleteAnyUser` in the consumers file): a
   * service-to-service call with no person behind it; `userId` then names the consumer.
   */
  deleteAnyUser?: boolean
  /** The end user's own account is soft-deleted: admitted only where a cancel lets them back in. */
  softDeleted?: boolean
  /**
   * This call's lock-out refuses a soft-deleted person's token (the operation does not admit them,
   * as Sunbird's delete route): a soft deletion of the person, or of the managed user they act
   * for, that lands while the call runs refuses it as well (lockedOutBy). Absent: admitted.
   */
  softDeletedRefused?: boolean
}
