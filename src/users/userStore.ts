/**
 * The dashboard's users (table users, migrations/0020): made, listed, re-keyed and removed by `tlsrpt user`
 * (src/cli/userCommands.ts), checked at login (src/api/sessionRoutes.ts). Names are case-sensitive as typed.
 */
import type { Pool } from '../db/pool.js';
import { TlsrptError } from '../errors.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwordHash.js';

export const ROLES = ['read', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Why a `tlsrpt user` command could not do what it was asked (README "Users and access"). */
export const USER_ERRORS = {
  'user-exists': 'A user of that name exists: pick another name, or change the password with "tlsrpt user passwd NAME".',
  'user-not-found': 'There is no user of that name: "tlsrpt user list" shows them.',
  'password-too-short': 'The password is too short: give at least 12 characters on standard input.',
  'user-name-invalid': 'A user name is 1 to 64 letters, digits, ".", "_", "@" or "-".',
} as const;
export type UserErrorCode = keyof typeof USER_ERRORS;

export class UserError extends TlsrptError {
  override readonly name = 'UserError';
  declare readonly code: UserErrorCode;
  constructor(code: UserErrorCode, message: string = USER_ERRORS[code]) {
    super(code, message);
  }
}

export const MIN_PASSWORD_LENGTH = 12;

export interface User {
  id: number;
  name: string;
  role: Role;
}

export interface UserListing extends User {
  created_at: string;
  updated_at: string;
  sessions: number;
}

export function checkUserName(name: string): string {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new UserError('user-name-invalid', `"${name}": ${USER_ERRORS['user-name-invalid']}`);
  return name;
}

function checkPassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) throw new UserError('password-too-short');
  return password;
}

export async function addUser(pool: Pool, name: string, role: Role, password: string): Promise<User> {
  checkUserName(name);
  const hash = await hashPassword(checkPassword(password));
  const res = await pool.query<User>(
    `INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id, name, role`,
    [name, role, hash],
  );
  if (!res.rows[0]) {
    throw new UserError(
      'user-exists',
      `User "${name}" exists: pick another name, or change the password with "tlsrpt user passwd ${name}".`,
    );
  }
  return res.rows[0];
}

/** Sets a new password and ends the user's sessions: whoever knew the old one is logged out. */
export async function setPassword(pool: Pool, name: string, password: string): Promise<void> {
  const hash = await hashPassword(checkPassword(password));
  const res = await pool.query<{ id: number }>(`UPDATE users SET password_hash = $2, updated_at = now() WHERE name = $1 RETURNING id`, [
    name,
    hash,
  ]);
  const user = res.rows[0];
  if (!user) throw new UserError('user-not-found', `No user "${name}": "tlsrpt user list" shows them.`);
  await pool.query(`DELETE FROM user_sessions WHERE user_id = $1`, [user.id]);
}

/** Removes the user; their sessions go with them (ON DELETE CASCADE). */
export async function removeUser(pool: Pool, name: string): Promise<void> {
  const res = await pool.query(`DELETE FROM users WHERE name = $1`, [name]);
  if (!res.rowCount) throw new UserError('user-not-found', `No user "${name}": "tlsrpt user list" shows them.`);
}

export async function listUsers(pool: Pool): Promise<UserListing[]> {
  const res = await pool.query<UserListing>(
    `SELECT u.id, u.name, u.role, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
            to_char(u.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS updated_at,
            (SELECT count(*)::int FROM user_sessions s WHERE s.user_id = u.id AND s.expires_at > now()) AS sessions
     FROM users u ORDER BY u.name`,
  );
  return res.rows;
}

export async function findUser(pool: Pool, name: string): Promise<User | null> {
  const res = await pool.query<User>(`SELECT id, name, role FROM users WHERE name = $1`, [name]);
  return res.rows[0] ?? null;
}

/** The user when name and password match; null otherwise (an unknown name costs a hash too: no probing by timing). */
export async function checkLogin(pool: Pool, name: string, password: string): Promise<User | null> {
  const res = await pool.query<User & { password_hash: string }>(`SELECT id, name, role, password_hash FROM users WHERE name = $1`, [name]);
  const row = res.rows[0];
  const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
  return row && ok ? { id: row.id, name: row.name, role: row.role } : null;
}
