/** The keyspace the integration and contract suites own (the demo keeps `sunbird`). */
export const TEST_KEYSPACE = 'sunbird_test'

/** Where the project's local Keycloak answers (scripts/services.mjs defaults). */
export const KEYCLOAK_URL = `http://127.0.0.1:${process.env.KEYCLOAK_PORT ?? '18080'}`
export const REALM = 'sunbird'
export const ISSUER = `${KEYCLOAK_URL}/realms/${REALM}`

/** The local search engine and Redis that scripts/services.mjs starts or finds (OPENSEARCH_PORT, REDIS_PORT). */
export const LOCAL_SEARCH = { hosts: ['127.0.0.1'], port: Number(process.env.OPENSEARCH_PORT ?? '9200') }
export const LOCAL_REDIS = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? '6379') }
