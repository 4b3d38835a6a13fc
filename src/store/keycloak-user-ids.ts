/**
 * The ids under which Keycloak may hold a user, in the order to try them. A user that comes through
 * Keycloak's user-storage federation is `f:<provider id>:<user id>` there (Sunbird's
 * KeyCloakServiceImpl addresses it so, which is why its tokens' `sub` has that form); a native
 * account is the plain id, and one deployment may hold both. Without a provider id (empty or
 * absent) only the plain id is tried.
 */
export function keycloakIdsToTry(userId: string, federationProviderId?: string): string[] {
  return federationProviderId ? [`f:${federationProviderId}:${userId}`, userId] : [userId]
}
