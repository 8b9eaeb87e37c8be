/** Keeps what verification found with a message that is not stored as a report (quarantined as not-authenticated). */
import type { Pool } from '../db/pool.js';
import type { MessageAuthentication } from './verifyDkim.js';

export async function recordAuthentication(pool: Pool, rawMessageId: number, authentication: MessageAuthentication): Promise<void> {
  // Not a state change: the column describes the message whatever its state.
  await pool.query(`UPDATE raw_messages SET authentication = $2 WHERE id = $1`, [rawMessageId, JSON.stringify(authentication)]);
}
