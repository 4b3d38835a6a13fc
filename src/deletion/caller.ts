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
}
