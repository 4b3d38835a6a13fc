import { defineConfig } from 'vitest/config'

// `npm run test:faults`: deletions through the built server while a harness pauses and kills the
// real Cassandra, Keycloak and Kafka (test/faults/), kept out of `npm test` for its run time. One
// node of each, whatever the shell exports; the same servers `npm test` starts (reused when up).
// A server killed by the suite may take minutes to start again on a loaded 2-core machine (Keycloak
// 30–90 s, over 4 minutes under load): its start is waited for up to SERVICES_START_BUDGET_MS.
const startBudget = process.env.SERVICES_START_BUDGET_MS ?? '600000'
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/faults/support/global-setup.ts', 'test/support/build-once.ts'],
          setupFiles: ['test/support/stop-leftover-servers.ts'],
          env: { CASSANDRA_NODES: '1', KAFKA_BROKERS: '1', SERVICES_START_BUDGET_MS: startBudget },
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
})
