import { createCipheriv } from 'node:crypto'
import type { Client } from 'cassandra-driver'

/**
 * What userorg-service writes with `sunbird_encryption=ON` (DefaultEncryptionServiceImpl.encrypt,
 * read at Sunbird-Lern/userorg-service@ac7a278a2c8ef318d28a1dc3c064e76b92c940a2, see
 * src/deletion/sunbird-decryption.ts): three rounds of Base64(AES-128-ECB/PKCS#5 under
 * "ThisAsISerceKtey" of the UTF-8 of key + value), its Base64 ending each full 57-byte line with
 * the JVM's line separator (`\n`; `\r\n` on Windows). For seeding rows as a real deployment holds
 * them; src/deletion/sunbird-decryption.test.ts holds it to vectors made by the Java code itself.
 */
export function encryptAsSunbird(value: string, key: string, lineSeparator = '\n'): string {
  let text = value
  for (let round = 0; round < 3; round++) {
    const cipher = createCipheriv('aes-128-ecb', Buffer.from('ThisAsISerceKtey', 'latin1'), null)
    const bytes = Buffer.concat([cipher.update(`${key}${text}`, 'utf8'), cipher.final()])
    text = ''
    for (let at = 0; at < bytes.length; at += 57) {
      const line = bytes.subarray(at, at + 57)
      text += line.toString('base64') + (line.length === 57 ? lineSeparator : '')
    }
  }
  return text
}

/** The user row's columns userorg-service encrypts (userencryption.properties `userkey.encryption`). */
const ENCRYPTED_COLUMNS = ['email', 'phone', 'username', 'loginid', 'prevusedemail', 'prevusedphone', 'recoveryemail', 'recoveryphone'] as const

/**
 * Rewrites a seeded user as a deployment with encryption on holds them: the encrypted columns of
 * the user row, and the user's email, phone and username lookups keyed by the encrypted value.
 */
export async function encryptUserAsSunbird(db: Client, keyspace: string, userId: string, key: string): Promise<void> {
  const q = (cql: string, params: unknown[]) => db.execute(cql, params, { prepare: true })
  const row = (await q(`SELECT ${ENCRYPTED_COLUMNS.join(', ')} FROM ${keyspace}.user WHERE id = ?`, [userId])).first()
  const values = ENCRYPTED_COLUMNS.map((column) => row?.get(column) as string | null)
  await q(`UPDATE ${keyspace}.user SET ${ENCRYPTED_COLUMNS.map((column) => `${column} = ?`).join(', ')} WHERE id = ?`, [
    ...values.map((value) => (value ? encryptAsSunbird(value, key) : value)),
    userId,
  ])
  for (const lookup of (await q(`SELECT type, value FROM ${keyspace}.user_lookup WHERE userid = ?`, [userId])).rows) {
    const type = lookup.get('type') as string
    if (type === 'externalid') continue
    await q(`DELETE FROM ${keyspace}.user_lookup WHERE type = ? AND value = ?`, [type, lookup.get('value')])
    await q(`INSERT INTO ${keyspace}.user_lookup (type, value, userid) VALUES (?, ?, ?)`, [type, encryptAsSunbird(lookup.get('value') as string, key), userId])
  }
}
