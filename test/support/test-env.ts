/** The keyspace the integration and contract suites own (the demo keeps `sunbird`). */
export const TEST_KEYSPACE = 'sunbird_test'

/** Where the project's local Keycloak answers (scripts/services.mjs defaults). */
export const KEYCLOAK_URL = `http://127.0.0.1:${process.env.KEYCLOAK_PORT ?? '18080'}`
export const REALM = 'sunbird'
export const ISSUER = `${KEYCLOAK_URL}/realms/${REALM}`
