import { loadConfig } from '../src/config/load-config.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { demoUsers } from './lib/demo-users.js'
import { restoreKeycloakDemoUsers } from './lib/restore-keycloak-demo-users.js'
import { seedUser } from './lib/seed-users.js'

// `npm run db:seed`: (re)writes the demo users of config/keycloak/realm-sunbird.json into Cassandra,
// active again, with personal data in every table, and puts them back into the local Keycloak, so
// the quick start always has someone to delete.
const config = loadConfig()
const client = createCassandraClient(config.cassandra)
try {
  for (const demo of demoUsers()) {
    await seedUser(client, config.cassandra.keyspace, { ...demo.seed, status: 1, isDeleted: false })
    console.log(`seeded ${demo.username} (${demo.seed.id})`)
  }
} finally {
  await client.shutdown()
}
if (!process.env.sunbird_sso_url) {
  const added = await restoreKeycloakDemoUsers(config.auth.userToken.ssoUrl, config.auth.userToken.realm)
  console.log(added ? `restored ${added} demo user(s) in the local Keycloak` : 'demo users present in the local Keycloak')
}
