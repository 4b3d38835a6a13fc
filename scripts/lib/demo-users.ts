import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { v5 as uuidv5 } from 'uuid'
import { configDir, projectRoot } from '../../src/config/project-root.js'
import type { SeedUser } from './seed-users.js'

export const DEMO_ORG = '0137000000000000000001'

interface RealmUser {
  id: string
  username: string
  firstName?: string
  lastName?: string
  email?: string
  attributes?: Record<string, string[]>
  credentials?: { type: string; value: string }[]
}

/** The realm file imported into the local Keycloak: the one place demo users are defined. */
export const realmFile = join(configDir, 'keycloak', 'realm-sunbird.json')

export function readRealmUsers(): RealmUser[] {
  const realm = JSON.parse(readFileSync(realmFile, 'utf8')) as { users: (RealmUser & { serviceAccountClientId?: string })[] }
  return realm.users.filter((user) => !user.serviceAccountClientId)
}

export interface DemoUser {
  username: string
  password: string
  seed: SeedUser
}

/** Demo users as Cassandra rows with the same ids, roles and managing parent as in Keycloak. */
export function demoUsers(): DemoUser[] {
  return readRealmUsers().map((user) => {
    const roles = JSON.parse(user.attributes?.roles?.[0] ?? '[{"role":"PUBLIC","scope":[]}]') as { role: string; scope: { organisationId: string }[] }[]
    const parentId = user.attributes?.parentId?.[0]
    return {
      username: user.username,
      password: user.credentials?.find((c) => c.type === 'password')?.value ?? '',
      seed: {
        id: user.id,
        username: user.username,
        firstName: user.firstName,
        lastName: user.lastName,
        email: user.email,
        rootOrgId: DEMO_ORG,
        managedBy: parentId,
        roles: roles.map((r) => ({ role: r.role, organisationIds: r.scope.map((s) => s.organisationId) })),
      },
    }
  })
}

/** The ids of the demo learners, one a line: the file the quick start's batch deletion reads. */
export const demoLearnersFile = join(projectRoot, '.cache', 'demo', 'learner-ids.txt')

// Fixed, so that the learners keep their ids from one `npm start` to the next.
const LEARNER_NAMESPACE = '5b9c3c36-7d55-4f0e-9a57-6a4ec1d1a0b2'

/**
 * Learners of the demo organisation, for the quick start's batch deletion by demo-admin (its
 * ORG_ADMIN): Cassandra rows only, no Keycloak account, as for learners whose accounts the
 * identity provider no longer holds (the account step finds none).
 */
export function demoLearners(count = 30): SeedUser[] {
  return Array.from({ length: count }, (_, k) => {
    const username = `demo-learner-${String(k + 1).padStart(2, '0')}`
    return { id: uuidv5(username, LEARNER_NAMESPACE), username, firstName: 'Demo', lastName: `Learner ${k + 1}`, rootOrgId: DEMO_ORG, organisations: [DEMO_ORG] }
  })
}
