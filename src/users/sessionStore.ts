/**
 * Dashboard login sessions (table user_sessions, migrations/0020). The cookie holds a 32-byte random token;
 * the table holds its SHA-256, the user, a CSRF token and the expiry (UI_SESSION_HOURS after login).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import type { Role } from './userStore.js';

export interface Session {
  userId: number;
  name: string;
  role: Role;
  csrfToken: string;
  expiresAt: Date;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A new session for `userId`; returns the cookie token (never stored) and the CSRF token. */
export async function createSession(
  pool: Pool,
  userId: number,
  hours: number,
): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const res = await pool.query<{ expires_at: Date }>(
    `INSERT INTO user_sessions (token_sha256, user_id, csrf_token, expires_at)
     VALUES ($1, $2, $3, now() + make_interval(hours => $4)) RETURNING expires_at`,
    [digest(token), userId, csrfToken, hours],
  );
  // Expired sessions of anyone are cleared at each login: the table stays as small as the live sessions.
  await pool.query(`DELETE FROM user_sessions WHERE expires_at < now()`);
  return { token, csrfToken, expiresAt: res.rows[0]!.expires_at };
}

/** The live session of a cookie token, or null (unknown, expired, or its user removed). */
export async function findSession(pool: Pool, token: string): Promise<Session | null> {
  const res = await pool.query<{ user_id: number; name: string; role: Role; csrf_token: string; expires_at: Date }>(
    `SELECT s.user_id, u.name, u.role, s.csrf_token, s.expires_at
     FROM user_sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_sha256 = $1 AND s.expires_at > now()`,
    [digest(token)],
  );
  const r = res.rows[0];
  return r ? { userId: r.user_id, name: r.name, role: r.role, csrfToken: r.csrf_token, expiresAt: r.expires_at } : null;
}

export async function deleteSession(pool: Pool, token: string): Promise<void> {
  await pool.query(`DELETE FROM user_sessions WHERE token_sha256 = $1`, [digest(token)]);
}
