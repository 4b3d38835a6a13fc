import { createDecipheriv } from 'node:crypto'

/*
 * Sunbird's at-rest encryption of user fields, undone. userorg-service encrypts the user row's
 * email, phone, username, loginid, prevusedemail, prevusedphone, recoveryemail and recoveryphone
 * (userencryption.properties) and the user_lookup values; its otp and rate_limit rows are keyed by
 * the plain email or phone. Read at Sunbird-Lern/userorg-service@ac7a278a2c8ef318d28a1dc3c064e76b92c940a2
 * (release-8.0.0): core/platform-common/src/main/java/org/sunbird/datasecurity/EncryptionService.java
 * (the constants), impl/DefaultEncryptionServiceImpl.java, impl/DefaultDecryptionServiceImpl.java and
 * impl/BASE64Encoder.java with CharacterEncoder.java (a copy of sun.misc.BASE64Encoder, which the
 * older DefaultEncryptionServivceImpl of sunbird-lms-service / sunbird-utils called: the same output).
 *
 * Three rounds of value = Base64(AES(key + value)): Java's "AES" (ECB, PKCS#5 padding) under the
 * fixed 16 bytes "ThisAsISerceKtey", of the UTF-8 bytes of `sunbird_encryption_key` prefixed to the
 * value (the configured key is that prefix, not the AES key). Its Base64 (`encode`, not
 * `encodeBuffer`) ends a line after every 57 bytes (76 characters) with the JVM's line separator,
 * so a stored value of more than 76 characters holds line breaks, and so does a round's input.
 * Sunbird's decryption strips the prefix's length without looking at it; this one requires it, so
 * that a value that is not Sunbird's ciphertext under this key is never taken for one.
 */

/** EncryptionService.keyValue: the AES-128 key every Sunbird deployment shares. */
const AES_KEY = Buffer.from('ThisAsISerceKtey', 'latin1')
/** EncryptionService.ITERATIONS. */
const ROUNDS = 3
const AES_BLOCK_BYTES = 16
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
/** Java's new String(bytes, UTF_8) keeps a leading BOM; a round that is not UTF-8 is not Sunbird's. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** One round undone: the text after the key, or undefined when `text` is not this round's ciphertext under `key`. */
function decryptRound(text: string, key: string): string | undefined {
  const base64 = text.replace(/[\r\n]/g, '')
  if (base64.length % 4 !== 0 || !BASE64.test(base64)) return undefined
  const bytes = Buffer.from(base64, 'base64')
  if (bytes.length === 0 || bytes.length % AES_BLOCK_BYTES !== 0) return undefined
  let plain: string
  try {
    const decipher = createDecipheriv('aes-128-ecb', AES_KEY, null)
    plain = utf8.decode(Buffer.concat([decipher.update(bytes), decipher.final()]))
  } catch {
    // Bad padding, or bytes that are not UTF-8: not encrypted by Sunbird under this key.
    return undefined
  }
  return plain.startsWith(key) ? plain.slice(key.length) : undefined
}

/** The value Sunbird encrypted as `stored` with `sunbird_encryption_key` = `key`; undefined when `stored` is not such a ciphertext. */
export function decryptSunbirdValue(stored: string, key: string): string | undefined {
  // Sunbird trims the stored value before decoding it (a Base64 that ends a full line ends with a line break).
  let value: string | undefined = stored.trim()
  for (let round = 0; round < ROUNDS && value !== undefined; round++) value = decryptRound(value, key)
  return value
}

/** Sunbird's decryption under one deployment's key: the value Sunbird was given, or undefined when `stored` does not decrypt with that key. */
export type DecryptUserField = (stored: string) => string | undefined

/**
 * The decryption of user fields under `key` (the deployment's `sunbird_encryption_key`); none when
 * the key is unset or empty (every value used as stored). The key stays inside the function returned.
 */
export function decryptionWith(key: string | undefined): DecryptUserField | undefined {
  if (!key) return undefined
  return (stored) => decryptSunbirdValue(stored, key)
}

/**
 * The value Sunbird was given of one it stores: decrypted when it decrypts, else as stored (a value
 * written before encryption was on, or with it off, or no key set).
 */
export function plainValue(decrypt: DecryptUserField | undefined, stored: string): string {
  return decrypt?.(stored) ?? stored
}

/**
 * The user fields userorg-service stores encrypted, by name in any case: the user row's columns
 * (userencryption.properties `userkey.encryption`), which its search document (getUserDetailsForES:
 * the row, camelCase: userName, prevUsedEmail) and the user cache (the row's columns) hold as the row
 * does, and the encEmail and encPhone some of its writers add to a document (`userkey.decryption`).
 */
const ENCRYPTED_FIELDS: ReadonlySet<string> = new Set(['email', 'phone', 'username', 'loginid', 'prevusedemail', 'prevusedphone', 'recoveryemail', 'recoveryphone', 'encemail', 'encphone'])
/** The user_lookup types whose values userorg-service stores encrypted, as the row's columns (externalid is not one). */
const ENCRYPTED_LOOKUP_TYPES: ReadonlySet<string> = new Set(['email', 'phone', 'username'])
/** The self-declared contacts userorg-service stores encrypted in a user_declarations row's userinfo (UserUtil.encryptDeclarationFields). */
const ENCRYPTED_DECLARED_FIELDS: ReadonlySet<string> = new Set(['declared-email', 'declared-phone'])

/**
 * `fields` with those named in `encrypted` as their plain values (each that decrypts); the others as
 * stored. An empty one (Sunbird's blank) is no ciphertext: not tried, as a deletion reads no empty contact.
 */
function plainFieldsOf<Fields extends Record<string, unknown>>(decrypt: DecryptUserField, fields: Fields, encrypted: (name: string) => boolean): Fields {
  return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, encrypted(name) && typeof value === 'string' && value !== '' ? plainValue(decrypt, value) : value])) as Fields
}

/**
 * A user row, search document or cached user with the fields Sunbird encrypts as their plain values
 * (each that decrypts); the other fields as stored.
 */
export function plainUserFields<Fields extends Record<string, unknown>>(decrypt: DecryptUserField | undefined, fields: Fields): Fields {
  if (!decrypt) return fields
  return plainFieldsOf(decrypt, fields, (name) => ENCRYPTED_FIELDS.has(name.toLowerCase()))
}

/**
 * A usr_external_identity row with its `originalexternalid` plain (when it decrypts) if it is a
 * declared email or phone (its `originalidtype`, or `idtype`), which userorg-service stores
 * encrypted (UserUpdateActor.encryptExternalDetails), as its own reads decrypt it; any other row as
 * stored. Its `externalid`, that ciphertext lowercased (UserUtil), decrypts never: as stored, and
 * not counted as a value the key failed on.
 */
export function plainExternalIdentity<Row extends Record<string, unknown>>(decrypt: DecryptUserField | undefined, row: Row): Row {
  const declared = [row.originalidtype, row.idtype].some((type) => typeof type === 'string' && ENCRYPTED_DECLARED_FIELDS.has(type))
  if (!decrypt || !declared) return row
  return plainFieldsOf(decrypt, row, (name) => name === 'originalexternalid')
}

/** A user_declarations row with its declared email and phone plain (each that decrypts); the rest as stored. */
export function plainDeclaration<Row extends Record<string, unknown>>(decrypt: DecryptUserField | undefined, row: Row): Row {
  const info = row.userinfo
  if (!decrypt || !info || typeof info !== 'object' || Array.isArray(info)) return row
  return { ...row, userinfo: plainFieldsOf(decrypt, info as Record<string, unknown>, (name) => ENCRYPTED_DECLARED_FIELDS.has(name)) }
}

/** A user_lookup row with its value plain when its type is one Sunbird encrypts and it decrypts; else as stored. */
export function plainLookup<Lookup extends { type: string; value: string }>(decrypt: DecryptUserField | undefined, lookup: Lookup): Lookup {
  if (!decrypt) return lookup
  return ENCRYPTED_LOOKUP_TYPES.has(lookup.type) ? { ...lookup, value: plainValue(decrypt, lookup.value) } : lookup
}
