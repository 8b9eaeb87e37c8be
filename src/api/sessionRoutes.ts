/**
 * Log in and out of the dashboard: POST /api/v1/session {"username", "password"} sets the session cookie
 * (HttpOnly, SameSite=Strict, Secure over HTTPS) and answers the CSRF token; GET says who is logged in;
 * DELETE logs out. Login attempts are limited per client address (429 too-many-logins).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from '../db/pool.js';
import { HttpRefusal } from '../http/httpReplies.js';
import { createSession, deleteSession } from '../users/sessionStore.js';
import { checkLogin } from '../users/userStore.js';
import { SESSION_COOKIE } from './apiAccess.js';

export interface SessionRoutesOptions {
  pool: Pool;
  sessionHours: number;
  /** Login attempts per client address per minute. */
  loginsPerMinute: number;
}

const SESSION_REPLY = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: { type: 'string', enum: ['read', 'admin'] },
    csrfToken: { type: 'string', description: 'send it as the X-CSRF-Token header with every POST and DELETE' },
    via: { type: 'string', enum: ['session', 'proxy-header'] },
  },
  required: ['username', 'role', 'csrfToken'],
} as const;

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (app, o) => {
  await app.register(rateLimit, {
    global: false,
    cache: 10_000,
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) =>
      new HttpRefusal('too-many-logins', `Too many login attempts from this address; try again in ${context.after}.`, {
        'retry-after': String(Math.ceil(context.ttl / 1000)),
      }),
  });

  app.post<{ Body: { username: string; password: string } }>(
    '/session',
    {
      config: { public: true, rateLimit: { max: o.loginsPerMinute, timeWindow: 60_000 } },
      schema: {
        summary: 'Log in: sets the session cookie and returns the CSRF token',
        tags: ['session'],
        body: {
          type: 'object',
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
          },
          required: ['username', 'password'],
          additionalProperties: false,
        },
        response: { 200: SESSION_REPLY },
      },
    },
    async (request, reply) => {
      const user = await checkLogin(o.pool, request.body.username, request.body.password);
      if (!user) {
        request.log.info({ remote: request.ip, username: request.body.username }, 'dashboard login failed');
        throw new HttpRefusal('login-failed');
      }
      const session = await createSession(o.pool, user.id, o.sessionHours);
      request.log.info({ remote: request.ip, username: user.name }, 'dashboard login');
      reply.setCookie(SESSION_COOKIE, session.token, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
        expires: session.expiresAt,
      });
      return { username: user.name, role: user.role, csrfToken: session.csrfToken, via: 'session' };
    },
  );

  app.get(
    '/session',
    { schema: { summary: 'Who is logged in, and the CSRF token for actions', tags: ['session'], response: { 200: SESSION_REPLY } } },
    async (request) => {
      const user = request.apiUser!;
      return { username: user.name, role: user.role, csrfToken: user.csrfToken, via: user.via };
    },
  );

  app.delete(
    '/session',
    { schema: { summary: 'Log out (needs the X-CSRF-Token header)', tags: ['session'], response: { 204: { type: 'null' } } } },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) await deleteSession(o.pool, token);
      reply.clearCookie(SESSION_COOKIE, { path: '/' }).code(204).send();
    },
  );
};
