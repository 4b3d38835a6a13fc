import { describe, expect, it } from 'vitest'
import { encryptAsSunbird } from '../../test/support/sunbird-encryption.js'
import { decryptionWith, decryptSunbirdValue, plainDeclaration, plainExternalIdentity, plainLookup, plainUserFields, plainValue } from './sunbird-decryption.js'

/**
 * Ciphertexts made by userorg-service's own algorithm: DefaultEncryptionServiceImpl.encrypt with its
 * BASE64Encoder (Sunbird-Lern/userorg-service@ac7a278a2c8ef318d28a1dc3c064e76b92c940a2) run on
 * OpenJDK 17 (line.separator `\n`, and `\r\n` where said), each decrypted back by
 * DefaultDecryptionServiceImpl.decrypt to its plain value.
 */
const VECTORS = [
  // Sunbird's shipped key (externalresource.properties); the second round is 88 characters, so its line break is encrypted in the third.
  {
    key: 'SunBird',
    plain: 'zq.user@example.org',
    stored: 'dGPXpc4E4AIqa82v6yi+KELdPh1nqsitnXbmldRJZZ6SrFOKS/+Yzl+7tFbFuejPvbiAB2glYwke\nNeRXqiet1I5Tv+zAnMi3C7RWtzZcdvn4kKkkaY7FgpKnb5cumy6PTQtMGOn7lhkDdxs1iV8l8A==',
  },
  {
    key: 'SunBird',
    plain: '9876543210',
    stored: 'U5qMYICHXVwsPdH4BWsGG1jwYGqxpp68TVdK3og7vwsFHNabKy+VCP0g83xYfg2kKk1oGrR8K2Gy\n6dg7berO1UI7YW42PKBmhUEDE53vkr/WGI4dP4Einowk7gdKbG0rTQtMGOn7lhkDdxs1iV8l8A==',
  },
  {
    key: 'k3y-of-a-deployment',
    plain: 'recovery.parent@example.org',
    stored:
      '4hOxpMk2z4uDxfuAI8iGU9fgvyrwX1LiAvDa7UkWLCqFX+ThtF9NDGNqtKAe8StPHsFB666KOTKc\ncv6lkzqOBZYxi4bYuLg2fg4A8tm9uAk6j1QaRVVH7t+K8FKcrs4Wnf/ihBjLJRPsxT8zlZUVGiTJ\nYuxbqHbZxnd9nvItLKCtXTxcaQVpqnX2FdBxQZAk9zl5I76yD7W5+Gwbmt8w0Q==',
  },
  // Not ASCII: Java prefixes and strips the key by characters, over UTF-8 bytes.
  {
    key: 'SunBird',
    plain: 'élève@exemple.fr',
    stored: 'gTehPFwWcGD4HMgFykiEje50UwQmR9sJSjs3YFF013PSHNwqPeP5HE6gd/fMMPuNtz1C6x4yKc2J\nNbN3dMaUjwQq67DkxUEKHBlKjNmz44zbHaSGq8D/Pxk4Yq2L9+CcTQtMGOn7lhkDdxs1iV8l8A==',
  },
  // Three lines, the first two rounds with line breaks of their own.
  {
    key: 'SunBird',
    plain: 'a-rather-long-recovery-address-of-someone.with.many.parts@subdomain.example.org',
    stored:
      'EQ7Wn9FOE5uSaQflUq+yvHWbZaAriuI/CVXZIbuXBToYhfp/TqEs6KXnDKi5LLt3kcvxe+Nw48EP\nnlqxeK31mXVgvG07MEFLtXJe2LKNSULoMHcG/KBEaZvB6PNrpjEgx8PcPY6Bk8R5OtjKAMfKKqd/\nlR2FxPF5FNvZWePz58GyjZiUmknJlzsbQKR/omP5HvAV4rKx5X3NDT9wHirACCxHeXTyNpImFvOh\niyzqxyvnAqycVvnCnuiqr9iiPYn+cgFv/xpsk53LJyLKypIbUg==',
  },
  // 912 bytes of ciphertext, a whole number of 57-byte lines: the encoder ends it with a line break.
  {
    key: 'Sunbird-Key-9',
    plain: `p${'x'.repeat(422)}@example.org`,
    stored:
      'm/sCWvrzZAXnum5vvCuafLUcfkUMC4PEsp+aRvrc9/ihz+QBX1JrTHKShMDGmo6cRMmqlkQ3mz1t\nPEaebB25MiNcmOi5yNS5TjdKx5Q7CMPqmHpraQokiltILSmfwOUWZGRmLMhE8X2D6yVmj0RTMO2B\n1NVm4bNnEzQ1v0JT1TWLUxGG77NneBDNmwez0deWs1VgFNRBWs6jvd9GtEJnpsdSTMDASKKwWpkP\nTzs/j4XIvedfU7ubV2BRj0HWWdPxxNXvunZdUc4V+O4xsg0a7VpTx8EMj2hShQO6GEu7Y+u2Uifl\nrq8bmuTGSixDzdrz/7YrJz1TRaeAYyICl1p9GN4kvCLNbdosQeNZuSCQvtNorMTd98oegZ5aQdUD\n6KX6aJjIV8FLIS5Bby7tvyoldaCTDWxdwSCLAFNYKRKF9U1iQel4NwV/8cdQCWCilBqnOQj8sBDe\nP18QJYPhAwfjTfN4uJXkvuxTWcGvHxEi2K5yQ65Y5GSitIWI1vL9Xp2FDS7JqW7UBOiVJCD1qCpc\nbasCOKM3qjB/DqJYlYrUOagkIFYJWDPltsmc0ONuhOr9suJFtKTYCR4dNyejSFA26oNnMDvYRUGt\nvExD6cjtI4ONwjt60LACLAbaBxXK97dwS4kMv1XCapKgN+B8cQ9mT9tNXY/OGCextMrP2Y55d0/a\n3TU9ZXpegTp0UYtHrjAzwuyV7NxrEL0t9E1GrG2LOB3OVdo09/+mJBZSxf4J2JRj47Ivox0/IS5/\nzaAxmAF5IE1J0eBBXq6suUAb9RbbSnDggiKsAHoIM39uL7ZfYLBwM5V0V47YnvxpCCKIzsRxHHiP\n54E+8pWfAMNN1bULbw2RBW9NEyJlX2yvGz1d1lbU8hPft4WXbyt3zaHO+nrvRrEjXjFTkc1vAv2z\nTMDLMeNxLepM8heS5duYTm0doPN959bchGggeuUIQSWpA9JR5MuAxq77Bi4dgOojV+pXUpMPm7HW\nxrk+mUIJ/wYZtFpKZbSt6SPJcIstoDSiQpcqd8GH7s6yh902EA0QL18cgKW3rT89nFodWCCBGO9i\niMVRLio4AwZ9LEGRu/ShYKizbJdqDa5HQU54E1NM/84Ds3hxTIxhc7hmKRf42MZmq4sP+Xdtl/hU\nNKM7i74g+wbk0/oLhugrQkLPZBe+xUdZ2bzIQK0zbdCZBi3A5wFMAuUovD/3FzejzsumKkS4jEEw\n',
  },
] as const

/** The same algorithm on a JVM whose line separator is `\r\n` (Windows). */
const WINDOWS_VECTORS = [
  {
    key: 'SunBird',
    plain: 'zq.user@example.org',
    stored: 'dGPXpc4E4AIqa82v6yi+KELdPh1nqsitnXbmldRJZZ6SrFOKS/+Yzl+7tFbFuejPvbiAB2glYwke\r\nNeRXqiet1I5Tv+zAnMi3C7RWtzZcdvkVimxeVEj0GX+lpsQMVQv5T6a+wzaAmCWueMEdPmZuRg==',
  },
  {
    key: 'k3y-of-a-deployment',
    plain: 'recovery.parent@example.org',
    stored:
      '4hOxpMk2z4uDxfuAI8iGU9fgvyrwX1LiAvDa7UkWLCqFX+ThtF9NDGNqtKAe8StPHsFB666KOTKc\r\ncv6lkzqOBZYxi4bYuLg2fg4A8tm9uAn8cIptbwV3dNT/57h1IpywikNMX1TMDuxkOYQJhM3yBAV7\r\nOAyeB1prV87UyCg1PvtPodAIW0XHYX9lVGlxOGNjfD3tDaRXyXRe2Thx0Lik5A==',
  },
] as const

describe("Sunbird's encryption of user fields (sunbird_encryption_key)", () => {
  it.each(VECTORS)('when a value userorg-service encrypted with key $key is decrypted with that key, then it is the plain value', ({ key, plain, stored }) => {
    expect(decryptSunbirdValue(stored, key)).toBe(plain)
  })

  it.each(WINDOWS_VECTORS)('when userorg-service ran on a JVM writing \\r\\n line breaks, then its value decrypts all the same ($plain)', ({ key, plain, stored }) => {
    expect(decryptSunbirdValue(stored, key)).toBe(plain)
  })

  it.each(VECTORS)('when the test seeders encrypt $plain, then they write exactly what userorg-service writes', ({ key, plain, stored }) => {
    expect(encryptAsSunbird(plain, key)).toBe(stored)
  })

  it.each(WINDOWS_VECTORS)('when the test seeders encrypt $plain with \\r\\n line breaks, then they write what a Windows JVM writes', ({ key, plain, stored }) => {
    expect(encryptAsSunbird(plain, key, '\r\n')).toBe(stored)
  })

  it('when a value is decrypted with another key than it was encrypted with, then it does not decrypt (the key is the prefix each round must carry)', () => {
    const [vector] = VECTORS

    expect(decryptSunbirdValue(vector.stored, 'AnotherKey')).toBeUndefined()
    expect(decryptSunbirdValue(vector.stored, 'Sun')).toBeUndefined()
  })

  it.each([
    ['a plain email', 'zq.user@example.org'],
    ['a plain phone', '9876543210'],
    ['a 12-digit phone', '919876543210'],
    ['Base64 of 16 bytes that are no ciphertext', Buffer.alloc(16, 7).toString('base64')],
    ['one round of Sunbird encryption only', 'NmTwc2yyXQR+5a032F/bPCIogq6P0yYkoJD2zu+LfPY='],
    ['a value cut short', VECTORS[0].stored.slice(0, 77)],
    ['an empty value', ''],
  ])('when %s is decrypted, then it does not decrypt', (_what, stored) => {
    expect(decryptSunbirdValue(stored, 'SunBird')).toBeUndefined()
  })

  it('when the key is set, then a stored value reads as its plain value, and one that does not decrypt (stored before encryption was on) reads as stored', () => {
    const decrypt = decryptionWith('SunBird')

    expect(plainValue(decrypt, VECTORS[0].stored)).toBe('zq.user@example.org')
    expect(decrypt?.('legacy.plain@example.org')).toBeUndefined()
    expect(plainValue(decrypt, 'legacy.plain@example.org')).toBe('legacy.plain@example.org')
  })

  it.each([undefined, ''])('when the key is %j, then there is no decryption: every value reads as stored, ciphertext included', (key) => {
    expect(decryptionWith(key)).toBeUndefined()
    expect(plainValue(decryptionWith(key), VECTORS[0].stored)).toBe(VECTORS[0].stored)
  })

  it('when a user row is read with the key, then the eight columns Sunbird encrypts read plain where they decrypt, and every other column as stored', () => {
    const key = 'SunBird'
    const plain = {
      email: 'asha@example.org',
      phone: '9876543210',
      username: 'asha.k',
      loginid: 'asha.k@channel',
      prevusedemail: 'old.asha@example.org',
      prevusedphone: '9123456780',
      recoveryemail: 'parent@example.org',
      recoveryphone: '9000000001',
    }
    const stored = Object.fromEntries(Object.entries(plain).map(([column, value]) => [column, encryptAsSunbird(value, key)]))
    // A column Sunbird does not encrypt keeps its value even when it happens to be a ciphertext; one stored plain stays so.
    const row = { id: 'u-1', ...stored, recoveryphone: '9000000001', firstname: encryptAsSunbird('Asha', key), maskedemail: 'as****@example.org', status: 1, dob: null }

    expect(plainUserFields(decryptionWith(key), row)).toEqual({ id: 'u-1', ...plain, firstname: row.firstname, maskedemail: 'as****@example.org', status: 1, dob: null })
    expect(plainUserFields(decryptionWith(undefined), row)).toEqual(row)
  })

  it('when lookups are read with the key, then the email, phone and username values read plain where they decrypt; an external id as stored', () => {
    const key = 'SunBird'
    const lookups = [
      { type: 'email', value: encryptAsSunbird('asha@example.org', key) },
      { type: 'phone', value: encryptAsSunbird('9876543210', key) },
      { type: 'username', value: encryptAsSunbird('asha.k', key) },
      { type: 'externalid', value: encryptAsSunbird('ext-1@provider', key) },
      { type: 'email', value: 'legacy.plain@example.org' },
    ]

    expect(lookups.map((lookup) => plainLookup(decryptionWith(key), lookup))).toEqual([
      { type: 'email', value: 'asha@example.org' },
      { type: 'phone', value: '9876543210' },
      { type: 'username', value: 'asha.k' },
      lookups[3],
      { type: 'email', value: 'legacy.plain@example.org' },
    ])
    expect(lookups.map((lookup) => plainLookup(decryptionWith(undefined), lookup))).toEqual(lookups)
  })

  it("when a search document is read with the key, then the row's encrypted fields under their camelCase names and encEmail / encPhone read plain; a masked or other field as stored", () => {
    const key = 'SunBird'
    const document = {
      userName: encryptAsSunbird('asha.k', key),
      prevUsedEmail: encryptAsSunbird('old.asha@example.org', key),
      encPhone: encryptAsSunbird('9876543210', key),
      maskedEmail: 'as****@example.org',
      firstName: encryptAsSunbird('Asha', key),
      organisations: [{ organisationId: 'org-1' }],
    }

    expect(plainUserFields(decryptionWith(key), document)).toEqual({ ...document, userName: 'asha.k', prevUsedEmail: 'old.asha@example.org', encPhone: '9876543210' })
  })

  it('when a declaration is read with the key, then its declared email and phone read plain where they decrypt; the other declared fields and columns as stored', () => {
    const key = 'SunBird'
    const row = {
      userid: 'u-1',
      persona: 'teacher',
      userinfo: { 'declared-email': encryptAsSunbird('asha@example.org', key), 'declared-phone': '9876543210', 'declared-school-name': encryptAsSunbird('Vidya', key) },
    }

    expect(plainDeclaration(decryptionWith(key), row)).toEqual({ ...row, userinfo: { ...row.userinfo, 'declared-email': 'asha@example.org' } })
    expect(plainDeclaration(decryptionWith(key), { userid: 'u-1', userinfo: null })).toEqual({ userid: 'u-1', userinfo: null })
    expect(plainDeclaration(decryptionWith(undefined), row)).toBe(row)
  })

  it('when external identities are read with the key, then a declared email or phone reads plain in originalexternalid where it decrypts, externalid (lowercased by Sunbird) as stored; any other identity as stored', () => {
    const key = 'SunBird'
    const email = encryptAsSunbird('asha@example.org', key)
    const declared = { provider: 'state-1', idtype: 'declared-email', externalid: email.toLowerCase(), originalidtype: 'declared-email', originalexternalid: email, userid: 'u-1' }
    const other = { provider: 'state-1', idtype: 'student-id', externalid: encryptAsSunbird('SB-1', key), originalidtype: 'student-id', originalexternalid: 'SB-1', userid: 'u-1' }

    // Sunbird lowercases externalid: a ciphertext no more, left as stored.
    expect(plainExternalIdentity(decryptionWith(key), declared)).toEqual({ ...declared, originalexternalid: 'asha@example.org' })
    expect(plainExternalIdentity(decryptionWith(key), other)).toBe(other)
    expect(plainExternalIdentity(decryptionWith(undefined), declared)).toBe(declared)
  })
})
