import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signJwt } from '../../scripts/lib/sign-jwt.js'

export interface RealmKeys {
  kid: string
  privateKey: KeyObject
  publicKeyPem: string
  /** A folder in Sunbird's accesstoken.publickey.basepath layout: file name = kid. */
  dir: string
}

/** A realm signing key pair of our own, for tokens minted offline (the PEM-folder verification mode). */
export function createRealmKeys(kid = 'test-kid-1'): RealmKeys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const dir = mkdtempSync(join(tmpdir(), 'realm-keys-'))
  writeFileSync(join(dir, kid), publicKeyPem)
  return { kid, privateKey, publicKeyPem, dir }
}

export interface UserTokenClaims {
  sub: string
  roles?: { role: string; scope: { organisationId: string }[] }[]
  parentId?: string
  [claim: string]: unknown
}

/** A Keycloak-shaped access token (typ Bearer, iss = <sso>/realms/<realm>) signed with the test key. */
export function mintUserToken(keys: RealmKeys, issuer: string, claims: UserTokenClaims, options: { ttlSeconds?: number; header?: Record<string, unknown> } = {}): string {
  const now = Math.floor(Date.now() / 1000)
  return signJwt(
    { alg: 'RS256', typ: 'JWT', kid: keys.kid, ...options.header },
    { iat: now, exp: now + (options.ttlSeconds ?? 600), iss: issuer, typ: 'Bearer', azp: 'portal', ...claims },
    { rs256: keys.privateKey },
  )
}
