import { loadConfig } from '../src/config/load-config.js'
import { RedisUserCache } from '../src/redis/redis-user-cache.js'
import { connectSearchAndCache } from '../src/search-and-cache.js'
import { OpenSearchUserIndex } from '../src/search/opensearch-user-index.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { CassandraDeletionRequests } from '../src/store/cassandra-deletion-requests.js'
import { CassandraPersonalTables } from '../src/store/cassandra-personal-tables.js'
import { CassandraUserStore } from '../src/store/cassandra-user-store.js'
import { formatDeletionVerification } from '../src/verification/format-verification.js'
import { hasResidue, verifyDeletion } from '../src/verification/verify-deletion.js'

// `npm run deletion:verify -- <requestId>`: re-checks every configured store for the person of a
// deletion request and for each user they managed (by id; by value for otp, rate_limit and
// user_lookup through the keyed hashes the request kept) and prints one line per store and user,
// ids only, never a value. Exit 0: nothing left that the request's plan erases; 1: residue, of the
// person or of any managed user; 2: no such request or no request id.
const requestId = process.argv[2]
if (!requestId) {
  console.error('usage: npm run deletion:verify -- <requestId>')
  process.exit(2)
}
const config = loadConfig()
const cassandra = createCassandraClient(config.cassandra)
const searchAndCache = connectSearchAndCache(config)
let code = 0
try {
  const verified = await verifyDeletion(
    {
      requests: new CassandraDeletionRequests(cassandra, config.cassandra.keyspace),
      users: new CassandraUserStore(cassandra, config.cassandra.keyspace),
      tables: new CassandraPersonalTables(cassandra, config.cassandra.keyspace),
      search: searchAndCache.search && new OpenSearchUserIndex(searchAndCache.search),
      cache: searchAndCache.redis && new RedisUserCache(searchAndCache.redis),
      extraTargets: config.deletion.extraTargets,
      cassandra,
      keyspace: config.cassandra.keyspace,
      receiptKey: config.deletion.receiptHashKey,
    },
    requestId,
  )
  if (!verified) {
    console.error(`no deletion request ${requestId}`)
    code = 2
  } else {
    console.log(formatDeletionVerification(verified))
    code = hasResidue(verified) ? 1 : 0
  }
} finally {
  await Promise.all([cassandra.shutdown(), searchAndCache.close()])
}
process.exit(code)
