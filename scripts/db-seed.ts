import { loadConfig } from '../src/config/load-config.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { CassandraUserDeletionStates } from '../src/store/cassandra-user-deletion-states.js'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, relative } from 'node:path'
import { projectRoot } from '../src/config/project-root.js'
import { demoLearners, demoLearnersFile, demoUsers, DEMO_ORG } from './lib/demo-users.js'
import { restoreKeycloakDemoUsers } from './lib/restore-keycloak-demo-users.js'
import { runWithoutArguments } from './lib/operator-command.js'
import { exitAfterFlush } from './lib/exit-after-flush.js'
import { type SeedUser, seedUser } from './lib/seed-users.js'

// `npm run db:seed`: (re)writes the demo users of config/keycloak/realm-sunbird.json into Cassandra,
// active again, with personal data in every table, and puts them back into the local Keycloak, so
// the quick start always has someone to delete; and the demo learners, for its batch deletion.
// Exit 0 done, 1 stopped (one line on stderr), 2 an argument given (see OPERATOR_EXIT).
const code = await runWithoutArguments('db:seed', process.argv.slice(2), async () => {
  const config = loadConfig()
  const client = createCassandraClient(config.cassandra)
  const states = new CassandraUserDeletionStates(client, config.cassandra.keyspace)
  /** Writes the user's rows, active again: no deletion (soft, hard) holds them any more. */
  async function seedActive(seed: SeedUser): Promise<void> {
    await seedUser(client, config.cassandra.keyspace, { ...seed, status: 1, isDeleted: false })
    const held = await states.get(seed.id)
    if (held) await states.swap(seed.id, held, undefined)
  }

  try {
    for (const demo of demoUsers()) {
      await seedActive(demo.seed)
      console.log(`seeded ${demo.username} (${demo.seed.id})`)
    }
    const learners = demoLearners()
    for (const learner of learners) await seedActive(learner)
    mkdirSync(dirname(demoLearnersFile), { recursive: true })
    writeFileSync(demoLearnersFile, `# ${learners.length} demo learners of organisation ${DEMO_ORG}\n${learners.map((learner) => learner.id).join('\n')}\n`)
    console.log(`seeded ${learners.length} demo learners of ${DEMO_ORG} (ids in ${relative(projectRoot, demoLearnersFile)})`)
  } finally {
    await client.shutdown()
  }
  if (!process.env.sunbird_sso_url) {
    const added = await restoreKeycloakDemoUsers(config.auth.userToken.ssoUrl, config.auth.userToken.realm)
    console.log(added ? `restored ${added} demo user(s) in the local Keycloak` : 'demo users present in the local Keycloak')
  }
})
exitAfterFlush(code)
