import { defineConfig } from 'vitest/config'
import { clusterEnv } from './test/cluster/support/cluster-env.js'

// `npm run test:cluster`: the suite against a 3-node Cassandra and a 3-broker Kafka (test/cluster/),
// kept out of `npm test`, which stays on one node of each. Files run one at a time: they kill and
// restart nodes of the one shared cluster. The two-instance file (test/cluster/two-instances.test.ts)
// takes about 3 minutes of it.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: ['test/cluster/support/global-setup.ts', 'test/support/build-once.ts'],
          setupFiles: ['test/support/stop-leftover-servers.ts'],
          env: clusterEnv(),
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
})
