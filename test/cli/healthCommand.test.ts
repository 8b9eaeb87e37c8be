/**
 * `tlsrpt health`, the container health check: 0 when PostgreSQL (with every migration), Redis and the
 * listeners asked for answer, 1 naming each one that does not. The passing case with real listeners runs in
 * test/dockerCompose.test.ts, for every service of docker-compose.yml.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { runCli } from '../helpers/runCli.js';
import { REDIS_URL } from '../helpers/services.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { freePort } from '../helpers/webhookSink.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

it('exits 0 when PostgreSQL, the migrations and Redis are fine', async () => {
  const r = await runCli(['health'], { DATABASE_URL: db.url, REDIS_URL });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^postgres\s+ok\s+reachable$/m);
  assert.match(r.stdout, /^migrations\s+ok\s+schema is current$/m);
  assert.match(r.stdout, /^redis\s+ok\s+reachable$/m);
});

it('exits 1 naming what does not answer: Redis, the SMTP greeting, /healthz', async () => {
  const [redisPort, smtpPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const r = await runCli(['health', '--smtp', '--http'], {
    DATABASE_URL: db.url,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    SMTP_PORT: String(smtpPort),
    HTTP_PORT: String(httpPort),
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^postgres\s+ok/m);
  assert.match(r.stdout, /^redis\s+FAIL not reachable/m);
  assert.match(r.stdout, new RegExp(`^smtp\\s+FAIL 127\\.0\\.0\\.1:${smtpPort}: connect ECONNREFUSED`, 'm'));
  assert.match(r.stdout, new RegExp(`^http\\s+FAIL http://127\\.0\\.0\\.1:${httpPort}/healthz: connect ECONNREFUSED`, 'm'));
});
