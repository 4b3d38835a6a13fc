import { defineConfig } from 'vitest/config'

// Integration, contract and browser suites share one real Cassandra, Keycloak, Kafka, OpenSearch and Redis, started once by the
// global setup; their files run one at a time, and the projects one after another (groupOrder),
// because some tests stop and start those servers.
const realServers = {
  globalSetup: ['test/support/global-setup.ts'],
  // A built server a failing test did not stop is killed after its file.
  setupFiles: ['test/support/stop-leftover-servers.ts'],
  // One node of each, whatever the shell exports (tests that stop and start a server call scripts/services.mjs).
  env: { CASSANDRA_NODES: '1', KAFKA_BROKERS: '1' },
  fileParallelism: false,
  testTimeout: 60_000,
  hookTimeout: 300_000,
}

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], sequence: { groupOrder: 1 }, ...realServers } },
      // The contract tier runs the built server: one build per run, in its global setup.
      { test: { name: 'contract', include: ['test/contract/**/*.test.ts'], sequence: { groupOrder: 2 }, ...realServers, globalSetup: [...realServers.globalSetup, 'test/support/build-once.ts'] } },
      // The built server in Debian's headless Chromium; its global setup installs Chromium when missing.
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          sequence: { groupOrder: 3 },
          ...realServers,
          globalSetup: [...realServers.globalSetup, 'test/support/build-once.ts', 'test/support/chromium-setup.ts'],
        },
      },
    ],
  },
})
