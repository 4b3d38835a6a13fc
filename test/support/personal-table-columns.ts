import type { PersonalTable } from '../../src/deletion/ports.js'

/**
 * The column of each of Sunbird's personal tables that names the user, as Sunbird's schema has it:
 * stated here on its own (not taken from the Cassandra adapter) so the contract suite checks the
 * adapter against it, and the in-memory fake finds rows by the same column.
 */
export const PERSONAL_TABLE_USER_COLUMN: Readonly<Record<PersonalTable, string>> = {
  user_declarations: 'userid',
  user_consent: 'user_id',
  user_notes: 'userid',
  shadow_user: 'userid',
  user_feed: 'userid',
  user_cert: 'userid',
  address: 'userid',
}
