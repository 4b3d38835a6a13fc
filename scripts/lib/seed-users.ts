import type { Client } from 'cassandra-driver'

/** A user as Sunbird stores it, with personal data in every table this service erases. */
export interface SeedUser {
  id: string
  firstName?: string
  lastName?: string
  username?: string
  email?: string
  phone?: string
  dob?: string
  rootOrgId?: string
  managedBy?: string
  status?: number
  isDeleted?: boolean
  /** Rows of user_roles; default PUBLIC. */
  roles?: { role: string; organisationIds?: string[] }[]
  organisations?: string[]
  externalIds?: { provider: string; idType: string; externalId: string }[]
}

/** Writes the user row, its lookups, roles, organisation memberships and external identities. */
export async function seedUser(client: Client, keyspace: string, user: SeedUser): Promise<void> {
  const ks = keyspace
  const q = (cql: string, params: unknown[]) => client.execute(cql, params, { prepare: true })
  const email = user.email ?? `${user.id.slice(0, 8)}@example.org`
  const phone = user.phone ?? `9${user.id.replace(/\D/g, '').padEnd(9, '0').slice(0, 9)}`
  const username = user.username ?? `user_${user.id.slice(0, 8)}`
  const now = new Date()
  await q(
    `INSERT INTO ${ks}.user (id, userid, username, email, phone, maskedemail, maskedphone, prevusedemail, prevusedphone,
      recoveryemail, recoveryphone, firstname, lastname, dob, countrycode, gender, loginid, emailverified, phoneverified,
      status, isdeleted, flagsvalue, profilelocation, profiledetails, profileusertypes, profileusertype, usertype, usersubtype,
      locationids, framework, tncacceptedversion, tncacceptedon, alltncaccepted, rootorgid, channel, managedby, createddate, createdby)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      user.id,
      user.id,
      username,
      email,
      phone,
      `${email[0]}****@example.org`,
      `******${phone.slice(-4)}`,
      `old.${email}`,
      `8${phone.slice(1)}`,
      `recovery.${email}`,
      `7${phone.slice(1)}`,
      user.firstName ?? 'Asha',
      user.lastName ?? 'Verma',
      user.dob ?? '1990-04-12',
      '+91',
      'female',
      `${username}@local`,
      true,
      true,
      user.status ?? 1,
      user.isDeleted ?? false,
      4,
      JSON.stringify([{ id: 'district-1', type: 'district' }]),
      JSON.stringify({ school: 'Springfield High', bio: `I am ${user.firstName ?? 'Asha'}` }),
      // Role, places (state to school) and class, as Sunbird's profile update and onboarding write them.
      JSON.stringify([{ type: 'administrator', subType: 'hm' }]),
      JSON.stringify({ type: 'administrator', subType: 'hm' }),
      'administrator',
      'hm',
      ['state-1', 'district-1', `school-${user.id.slice(0, 8)}`],
      { board: ['CBSE'], medium: ['English'], gradeLevel: ['Class 7'], subject: ['Mathematics'] },
      'v4',
      now,
      { groupsTnc: JSON.stringify({ version: '3.4.0', tncAcceptedOn: now.toISOString() }) },
      user.rootOrgId ?? null,
      'local',
      user.managedBy ?? null,
      now.toISOString(),
      user.id,
    ],
  )
  const lookups: [string, string][] = [
    ['email', email],
    ['phone', phone],
    ['username', username],
  ]
  for (const ext of user.externalIds ?? []) lookups.push(['externalid', `${ext.externalId}@${ext.provider}`])
  for (const [type, value] of lookups) await q(`INSERT INTO ${ks}.user_lookup (type, value, userid) VALUES (?, ?, ?)`, [type, value, user.id])
  for (const role of user.roles ?? [{ role: 'PUBLIC' }]) {
    await q(`INSERT INTO ${ks}.user_roles (userid, role, scope, createdby, createddate) VALUES (?, ?, ?, ?, ?)`, [
      user.id,
      role.role,
      JSON.stringify((role.organisationIds ?? []).map((organisationId) => ({ organisationId }))),
      user.id,
      now,
    ])
  }
  for (const organisationId of user.organisations ?? (user.rootOrgId ? [user.rootOrgId] : [])) {
    await q(`INSERT INTO ${ks}.user_organisation (userid, organisationid, id, isdeleted, orgjoindate, associationtype, roles) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
      user.id,
      organisationId,
      `${user.id}-${organisationId}`,
      false,
      now.toISOString(),
      1,
      ['PUBLIC'],
    ])
  }
  for (const ext of user.externalIds ?? []) {
    await q(
      `INSERT INTO ${ks}.usr_external_identity (provider, idtype, externalid, userid, originalexternalid, originalidtype, originalprovider, createdon, createdby)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [ext.provider, ext.idType, ext.externalId, user.id, ext.externalId, ext.idType, ext.provider, now, user.id],
    )
  }
}
