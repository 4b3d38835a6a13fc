import { loadConfig } from '../src/config/load-config.js'
import { RedisUserCache } from '../src/redis/redis-user-cache.js'
import { connectSearchAndCache } from '../src/search-and-cache.js'
import { OpenSearchUserIndex } from '../src/search/opensearch-user-index.js'
import { createCassandraClient } from '../src/store/cassandra-client.js'
import { CassandraDeletionRequests } from '../src/store/cassandra-deletion-requests.js'
import { CassandraPersonalTables } from '../src/store/cassandra-personal-tables.js'
import { CassandraUserStore } from '../src/store/cassandra-user-store.js'
import { type VerifyConnection, deletionVerifyCommand } from '../src/verification/deletion-verify-command.js'
import { exitAfterFlush } from './lib/exit-after-flush.js'

// `npm run deletion:verify -- <requestId>`: re-checks every configured store for the person of a
// deletion request and for each user they managed (by id; by value for otp, rate_limit and
// user_lookup through the keyed hashes the request kept, under the key that made them) and prints
// one line per store and user, ids only, never a value. Exit 0: nothing left that the request's
// plan erases; 1: residue, of the person or of any managed user; 2: could not verify (no request
// id, no such request, a store unreachable: one line, no stack trace); 3: no residue found, but a
// check was not possible (hashes made with another DELETION_RECEIPT_HASH_KEY; the search engine or
// Redis reached by the deletion but not configured here; an ERASURE_EXTRA_TARGETS table or column
// that does not exist), with one closing line per reason saying what to do.
function connect(): VerifyConnection {
  const config = loadConfig()
  const cassandra = createCassandraClient(config.cassandra)
  const searchAndCache = connectSearchAndCache(config)
  return {
    deps: {
      requests: new CassandraDeletionRequests(cassandra, config.cassandra.keyspace),
      users: new CassandraUserStore(cassandra, config.cassandra.keyspace),
      tables: new CassandraPersonalTables(cassandra, config.cassandra.keyspace),
      search: searchAndCache.search && new OpenSearchUserIndex(searchAndCache.search),
      cache: searchAndCache.redis && new RedisUserCache(searchAndCache.redis, config.redis.maxValueBytes),
      extraTargets: config.deletion.extraTargets,
      cassandra,
      keyspace: config.cassandra.keyspace,
      receiptKey: config.deletion.receiptHashKey,
    },
    close: async () => {
      await Promise.all([cassandra.shutdown(), searchAndCache.close()])
    },
  }
}

const code = await deletionVerifyCommand(process.argv.slice(2), connect, { out: (text) => console.log(text), err: (text) => console.error(text) })
exitAfterFlush(code)
