/**
 * Who may use the dashboard API, decided per request: the client address against UI_ALLOW (403
 * ui-forbidden), then the user, from the session cookie or, when UI_TRUSTED_PROXY_HEADER is set, from the
 * header a reverse proxy sets (401 login-required without either), then for actions (any method but GET and
 * HEAD) the CSRF token (403 csrf-token-invalid) and, where the route asks for it, the admin role.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Pool } from '../db/pool.js';
import { HttpRefusal } from '../http/httpReplies.js';
import { findSession } from '../users/sessionStore.js';
import { findUser, type Role } from '../users/userStore.js';

export const SESSION_COOKIE = 'tlsrpt_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface ApiUser {
  name: string;
  role: Role;
  csrfToken: string;
  /** How the user was recognised. */
  via: 'session' | 'proxy-header';
}

export interface ApiAccessOptions {
  pool: Pool;
  /** UI_TRUSTED_PROXY_HEADER, lower-case, or null. */
  proxyHeader: string | null;
}

export interface ApiAccess {
  /** The user of the request, or null when it has no live session (nor proxy header). */
  userOf(request: FastifyRequest): Promise<ApiUser | null>;
  /** The user, or 401; for an action also the CSRF token, and the admin role when `admin`. */
  require(request: FastifyRequest, need: { admin?: boolean }): Promise<ApiUser>;
}

export function createApiAccess(options: ApiAccessOptions): ApiAccess {
  const { pool, proxyHeader } = options;
  // A user authenticated by the proxy has no session row: their CSRF token is derived from their name with a
  // key of this process (a restart makes the page fetch a new one from GET /api/v1/session).
  const proxyKey = randomBytes(32);
  const proxyCsrf = (name: string) => createHmac('sha256', proxyKey).update(name).digest('base64url');

  async function userOf(request: FastifyRequest): Promise<ApiUser | null> {
    const token = request.cookies[SESSION_COOKIE];
    if (token) {
      const session = await findSession(pool, token);
      if (session) return { name: session.name, role: session.role, csrfToken: session.csrfToken, via: 'session' };
    }
    if (proxyHeader) {
      const header = request.headers[proxyHeader];
      const name = Array.isArray(header) ? header[0] : header;
      if (name) {
        const user = await findUser(pool, name.trim());
        if (user) return { name: user.name, role: user.role, csrfToken: proxyCsrf(user.name), via: 'proxy-header' };
      }
    }
    return null;
  }

  return {
    userOf,
    async require(request, need) {
      const user = await userOf(request);
      if (!user) throw new HttpRefusal('login-required');
      if (request.method !== 'GET' && request.method !== 'HEAD' && !sameToken(request.headers[CSRF_HEADER], user.csrfToken)) {
        throw new HttpRefusal('csrf-token-invalid');
      }
      if (need.admin && user.role !== 'admin') throw new HttpRefusal('admin-required');
      return user;
    },
  };
}

function sameToken(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
