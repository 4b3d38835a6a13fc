import { defineConfig } from 'vitest/config'

// `npm run test:faults`: deletions through the built server while a harness pauses and kills the
// real Cassandra, Keycloak and Kafka (test/faults/), kept out of `npm test` for its run time. One
// node of each, whatever the shell exports; the same servers `npm test` starts (reused when up).
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/faults/support/global-setup.ts', 'test/support/build-once.ts'],
          env: { CASSANDRA_NODES: '1', KAFKA_BROKERS: '1' },
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
})
