import { loadConfig, orExitOnConfigError } from '../src/config/load-config.js'
import { ApiConsumerVerifier, readApiConsumers } from '../src/auth/api-consumer-verifier.js'
import { relative } from 'node:path'
import { projectRoot } from '../src/config/project-root.js'
import { demoLearners, demoLearnersFile, demoUsers } from './lib/demo-users.js'
import { signApiBearer } from './lib/sign-jwt.js'

// Prints curl commands that work against the service `npm start` is about to run: a gateway
// bearer for the first HS256 consumer, and user tokens fetched from the configured Keycloak.
const config = orExitOnConfigError(loadConfig)
const realmUrl = `${config.auth.userToken.ssoUrl}/realms/${config.auth.userToken.realm}`
const base = `http://127.0.0.1:${config.http.port}`
// Checked as the server checks them (one line and exit 78 on a bad file or entry), then the first HS256 one signs.
const consumers = orExitOnConfigError(() => {
  ApiConsumerVerifier.fromFile(config.auth.apiBearer.consumersFile)
  return readApiConsumers(config.auth.apiBearer.consumersFile)
})
const consumer = consumers.find((c) => c.algorithm === 'HS256' && c.secret)
const apiBearer = consumer ? signApiBearer(consumer.key, consumer.secret as string) : '<gateway consumer JWT>'
const demos = demoUsers()

async function passwordToken(username: string, password: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${realmUrl}/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'portal', username, password }),
      signal: AbortSignal.timeout(5000),
    })
    return response.ok ? ((await response.json()) as { access_token: string }).access_token : undefined
  } catch {
    return undefined
  }
}

const fetchTokenCommand = (username: string, password: string) =>
  `$(curl -s -d grant_type=password -d client_id=portal -d username=${username} -d password=${password} ${realmUrl}/protocol/openid-connect/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`

const curl = (userId: string, token: string, extra = '', path = '/api/user/v1/delete', fields: Record<string, unknown> = {}) =>
  [
    `curl -s -X POST ${base}${path} \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -H "Authorization: Bearer $API_BEARER" \\`,
    `  -H "X-Authenticated-User-token: ${token}" \\`,
    ...(extra ? [`  ${extra} \\`] : []),
    `  -d '${JSON.stringify({ request: { userId, ...fields } })}'`,
  ].join('\n')

const byName = new Map(demos.map((d) => [d.username, d]))
const user = byName.get('demo-user')
const child = byName.get('demo-child')
const admin = byName.get('demo-admin')
const lines: string[] = ['', `────────── sunbird-user-delete is starting on ${base} ──────────`, '']
lines.push(`export API_BEARER='${apiBearer}'`, '')
if (user && child && admin) {
  const [userToken, childToken, adminToken] = await Promise.all([user, child, admin].map((d) => passwordToken(d.username, d.password)))
  const ready = (token: string | undefined, demo: typeof user) => token ?? fetchTokenCommand(demo.username, demo.password)
  // Child first: once demo-user has deleted their own account, their token is refused.
  lines.push('# 1. demo-user, as managing parent, deletes demo-child (child token in X-Authenticated-For):')
  lines.push(curl(child.seed.id, ready(userToken, user), `-H "X-Authenticated-For: ${ready(childToken, child)}"`), '')
  lines.push('# 2. demo-user previews a hard deletion (dry run: every store and what would happen, nothing written):')
  lines.push(curl(user.seed.id, ready(userToken, user), '', '/api/user/v1/delete', { mode: 'hard', dryRun: true }), '')
  lines.push('# 3. demo-user exports everything the service holds about them:')
  lines.push(curl(user.seed.id, ready(userToken, user), '', '/api/user/v1/export'), '')
  lines.push('# 4. demo-user soft-deletes their account (locked out, Keycloak account disabled, everything kept), safe to retry with the same key:')
  lines.push(curl(user.seed.id, ready(userToken, user), '-H "Idempotency-Key: demo-soft-1"', '/api/user/v1/delete', { mode: 'soft' }), '')
  lines.push('# 5. ... and changes their mind: their own token still works here, and only here:')
  lines.push(curl(user.seed.id, ready(userToken, user), '', '/api/user/v1/delete/cancel'), '')
  lines.push('# 6. demo-user deletes their own account for good, the Sunbird way (the tokens above are valid for 10 minutes):')
  lines.push(curl(user.seed.id, ready(userToken, user)), '')
  lines.push(`# 7. demo-admin (ORG_ADMIN of ${admin.seed.rootOrgId}) follows that deletion: state, steps, receipt:`)
  lines.push(curl(user.seed.id, ready(adminToken, admin), '', '/api/user/v1/delete/status'), '')
  lines.push(`# 8. demo-admin deletes the ${demoLearners().length} demo learners of the organisation as one batch job, and follows it (progress, rate, ETA, failures by code):`)
  lines.push(`USER_TOKEN="${ready(adminToken, admin)}" npm run deletion:batch -- --file ${relative(projectRoot, demoLearnersFile)}`, '')
  lines.push('# A fresh token whenever you need one:')
  lines.push(`USER_TOKEN=${fetchTokenCommand(admin.username, admin.password)}`, '')
  lines.push('# Run `npm start` again to bring the demo users back (Cassandra and Keycloak).', '')
}
console.log(lines.join('\n'))
