import { defineConfig } from 'vitest/config'
import { clusterEnv } from './test/cluster/support/cluster-env.js'

// `npm run test:cluster`: the suite against a 3-node Cassandra and a 3-broker Kafka (test/cluster/),
// kept out of `npm test`, which stays on one node of each. Files run one at a time: they kill and
// restart nodes of the one shared cluster. The two-instance suite (test/cluster/two-instances.test.ts,
// about 4 minutes on a fresh cluster; its race part still fails under load, docs/operating.md) runs
// only with CLUSTER_TWO_INSTANCES=1.
const files = process.env.CLUSTER_TWO_INSTANCES === '1' ? ['test/cluster/**/*.test.ts'] : ['test/cluster/deletion-on-cluster.test.ts']

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'cluster',
          include: files,
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
