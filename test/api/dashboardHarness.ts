/**
 * The HTTP service with the crafted stats set (test/helpers/craftedStatsSet.ts) stored through the worker's
 * path, an admin and a read-only user, and a small client that logs in and keeps the cookie and CSRF token.
 * Shared by the API tests (test/api/) and the browser tests (test/ui/).
 */
import assert from 'node:assert/strict';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { addUser } from '../../src/users/userStore.js';
import { craftedStatsSet } from '../helpers/craftedStatsSet.js';
import { startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';

export const ADMIN = { username: 'admin', password: 'correct horse battery staple' };
export const READER = { username: 'reader', password: 'reader password 123' };

export async function startDashboardHarness(
  env: Record<string, string> = {},
  asOf = new Date().toISOString().slice(0, 10),
): Promise<HttpHarness> {
  const h = await startHttpHarness(env, { worker: false });
  for (const r of craftedStatsSet(asOf)) {
    const id = await insertRawMessage(h.db.pool, Buffer.from(JSON.stringify(r.json)), { channel: 'ingest' });
    const result = await processMessage({ pool: h.db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1 }, id);
    assert.equal(result.outcome, 'stored', `${r.filename}: ${JSON.stringify(result)}`);
  }
  // Into the daily totals, as a worker's rollup job would within seconds.
  await foldRollups(h.db.pool);
  await addUser(h.db.pool, ADMIN.username, 'admin', ADMIN.password);
  await addUser(h.db.pool, READER.username, 'read', READER.password);
  return h;
}

export interface ApiClient {
  csrfToken: string;
  get(path: string): Promise<Response>;
  send(method: 'POST' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** Logs in through POST /api/v1/session and returns a client carrying the cookie (and the CSRF token on actions). */
export async function login(h: HttpHarness, user: { username: string; password: string }): Promise<ApiClient> {
  const res = await fetch(h.url('/api/v1/session'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(user),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return {
    csrfToken,
    get: (path) => fetch(h.url(path), { headers: { cookie } }),
    send: (method, path, body, headers = { 'x-csrf-token': csrfToken }) =>
      fetch(h.url(path), {
        method,
        headers: { cookie, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
  };
}
