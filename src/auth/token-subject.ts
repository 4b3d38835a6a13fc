/**
 * The user a token names. Keycloak's `sub` is the user id, or for a user of a federation provider
 * `f:<provider id>:<user id>` (Sunbird's form). Exactly those two shapes are read; anything else
 * (`f:a:<attacker>:<victim>`, an empty part, a stray colon) names nobody, rather than being read as
 * "the part after the last colon".
 */

// A user id: printable ASCII without ':' or space, bounded like the body's userId.
const ID = '[!-9;-~]{1,128}'
// A federation provider id, as schemas/user-id.json allows it in a body.
const PROVIDER = '[A-Za-z0-9._-]{1,64}'
const SUBJECT = new RegExp(`^(?:f:(${PROVIDER}):)?(${ID})$`)

export interface SubjectRules {
  /**
   * Sunbird's sunbird_keycloak_user_federation_provider_id: when set, a federated subject must name
   * this provider; when empty, any one provider is accepted.
   */
  federationProviderId?: string
}

/** The user id in a subject (or a parentId written the same way); undefined when the shape is not one of the two. */
export function userIdOfSubject(subject: string, rules: SubjectRules = {}): string | undefined {
  const match = SUBJECT.exec(subject)
  if (!match) return undefined
  const [, provider, id] = match
  if (provider !== undefined && rules.federationProviderId && provider !== rules.federationProviderId) return undefined
  return id
}
