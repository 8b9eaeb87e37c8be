/**
 * The dashboard API (src/api/) against the real HTTP service and database: access rules (UI_ALLOW, login,
 * CSRF, roles, login rate limit), the OpenAPI document, and the figures, which must be those of the SQL
 * views and of the CLI for the crafted stats set (one home per rule).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { acceptRawMessage } from '../../src/receive/acceptRawMessage.js';
import { createLogger } from '../../src/log/createLogger.js';
import { dayOf } from '../helpers/craftedStatsSet.js';
import type { HttpHarness } from '../helpers/httpHarness.js';
import { runCli } from '../helpers/runCli.js';
import { ADMIN, login, READER, startDashboardHarness, type ApiClient } from './dashboardHarness.js';

const AS_OF = new Date().toISOString().slice(0, 10);

describe('dashboard API', () => {
  let h: HttpHarness;
  let admin: ApiClient;
  // This server hosts single.example's MTA-STS policy: the API shows its published mode.
  const policyDir = mkdtempSync(join(tmpdir(), 'tlsrpt-dashboard-policies-'));
  writeFileSync(join(policyDir, 'single.example.txt'), 'version: STSv1\r\nmode: enforce\r\nmx: mx1.single.example\r\nmax_age: 604800\r\n');

  before(async () => {
    // 127.0.0.1 is a trusted proxy, so X-Forwarded-For can play a public client.
    h = await startDashboardHarness({ HTTP_TRUST_PROXY: '127.0.0.1', MTA_STS_POLICY_DIR: policyDir }, AS_OF);
    admin = await login(h, ADMIN);
  });
  after(async () => {
    await h?.close();
    rmSync(policyDir, { recursive: true, force: true });
  });

  it('answers 401 login-required without a session, except for login and the OpenAPI document', async () => {
    for (const path of ['/api/v1/domains', '/api/v1/domains/ready.example', '/api/v1/quarantine', '/api/v1/alerts', '/api/v1/session']) {
      const res = await fetch(h.url(path));
      assert.equal(res.status, 401, path);
      assert.equal(((await res.json()) as { error: string }).error, 'login-required');
    }
    const doc = await fetch(h.url('/api/v1/openapi.json'));
    assert.equal(doc.status, 200);
    const openapi = (await doc.json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(openapi.openapi, /^3\./);
    for (const p of [
      '/api/v1/session',
      '/api/v1/domains',
      '/api/v1/domains/{domain}',
      '/api/v1/quarantine/{id}/reprocess',
      '/api/v1/alerts',
    ]) {
      assert.ok(openapi.paths[p], `OpenAPI lists ${p}: ${Object.keys(openapi.paths).join(', ')}`);
    }
  });

  it('refuses a non-private client by default (UI_ALLOW=private), pages and API alike', async () => {
    for (const path of ['/api/v1/openapi.json', '/ui/']) {
      const res = await fetch(h.url(path), { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(res.status, 403, path);
      assert.equal(((await res.json()) as { error: string }).error, 'ui-forbidden');
    }
  });

  it('refuses a wrong password, and sets an HttpOnly SameSite cookie on login', async () => {
    const bad = await fetch(h.url('/api/v1/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: ADMIN.username, password: 'wrong' }),
    });
    assert.equal(bad.status, 401);
    assert.equal(((await bad.json()) as { error: string }).error, 'login-failed');
    const ok = await fetch(h.url('/api/v1/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(READER),
    });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.getSetCookie()[0]!, /^tlsrpt_session=[^;]+;.*HttpOnly.*SameSite=Strict/i);
  });

  it('refuses an action without the CSRF token, and an admin action by a read-only user', async () => {
    const quarantined = await acceptRawMessage(
      { pool: h.db.pool, enqueue: () => Promise.resolve(), log: createLogger('silent') },
      Buffer.from('{"not": "closed"'),
      { channel: 'http' },
    );
    await h.db.pool.query(`UPDATE raw_messages SET status = 'quarantined', reason = 'json-invalid', detail = 'x' WHERE id = $1`, [
      quarantined,
    ]);
    const noCsrf = await admin.send('POST', `/api/v1/quarantine/${quarantined}/reprocess`, undefined, {});
    assert.equal(noCsrf.status, 403);
    assert.equal(((await noCsrf.json()) as { error: string }).error, 'csrf-token-invalid');
    const reader = await login(h, READER);
    const notAdmin = await reader.send('POST', `/api/v1/quarantine/${quarantined}/reprocess`);
    assert.equal(notAdmin.status, 403);
    assert.equal(((await notAdmin.json()) as { error: string }).error, 'admin-required');
    const done = await admin.send('POST', `/api/v1/quarantine/${quarantined}/reprocess`);
    assert.equal(done.status, 200);
    assert.deepEqual(await done.json(), { id: quarantined, outcome: 'quarantined', reason: 'json-invalid' });
  });

  it('lists every policy domain with the verdict of tlsrpt readiness, paged and sorted', async () => {
    const res = await admin.get('/api/v1/domains?limit=2&sort=failure_rate&order=desc');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { total: number; domains: Array<Record<string, unknown>>; window: { from: string; until: string } };
    assert.equal(body.total, 6); // ready, failing, fewdays, single, dual, and tiebreak (no reports in the window)
    assert.deepEqual(body.window, { from: dayOf(AS_OF, 14), until: AS_OF });
    assert.deepEqual(
      body.domains.map((d) => d.policy_domain),
      ['failing.example', 'dual.example'],
    );
    const all = (await (await admin.get('/api/v1/domains?limit=500')).json()) as { domains: Array<Record<string, unknown>> };
    const cli = await runCli(['readiness', '--format', 'json', ...all.domains.flatMap((d) => ['--domain', String(d.policy_domain)])], {
      DATABASE_URL: h.db.url,
    });
    const cliRows = JSON.parse(cli.stdout) as Array<Record<string, unknown>>;
    const view = (await h.db.pool.query(`SELECT policy_domain, ready, reason, failed_sessions FROM enforce_readiness ORDER BY 1`)).rows;
    for (const row of all.domains) {
      const fromCli = cliRows.find((r) => r.policy_domain === row.policy_domain)!;
      for (const k of [
        'ready',
        'reason',
        'successful_sessions',
        'failed_sessions',
        'failure_rate',
        'reporters',
        'days_with_reports',
        'policy_mode',
      ]) {
        assert.deepEqual(row[k], fromCli[k], `${String(row.policy_domain)} ${k}: API and CLI`);
      }
      const fromView = view.find((r) => r.policy_domain === row.policy_domain);
      if (fromView)
        assert.deepEqual([row.ready, row.reason, row.failed_sessions], [fromView.ready, fromView.reason, fromView.failed_sessions]);
    }
    const tiebreak = all.domains.find((d) => d.policy_domain === 'tiebreak.example')!;
    assert.equal(tiebreak.ready, false);
    assert.match(String(tiebreak.reason), /^No reports in the last 14 days/);
    assert.equal(tiebreak.published_mode, null); // no MTA-STS policy hosted by this server
    assert.equal(all.domains.find((d) => d.policy_domain === 'single.example')!.published_mode, 'enforce');
    assert.ok(tiebreak.last_report_at);
    assert.deepEqual((body as unknown as { rollup: unknown }).rollup, { lag_seconds: 0, waiting: 0, notice: null });
    const filtered = (await (await admin.get('/api/v1/domains?q=DUAL&ready=true')).json()) as { total: number };
    assert.equal(filtered.total, 1);
  });

  it('shows a domain with the figures of tlsrpt stats and the views', async () => {
    const since = dayOf(AS_OF, 30);
    const res = await admin.get(`/api/v1/domains/failing.example?since=${since}`);
    assert.equal(res.status, 200);
    const d = (await res.json()) as {
      daily: Array<Record<string, unknown>>;
      daily_by: Array<Record<string, unknown>>;
      failures: Record<string, Array<Record<string, unknown>>>;
      modes: Array<Record<string, unknown>>;
      readiness: Record<string, unknown>;
    };
    const cli = await runCli(['stats', '--domain', 'failing.example', '--by', 'day', '--since', since, '--format', 'json'], {
      DATABASE_URL: h.db.url,
    });
    assert.deepEqual(
      d.daily,
      (JSON.parse(cli.stdout) as Array<Record<string, unknown>>).map(({ policy_domain: _p, ...r }) => r),
    );
    assert.equal(d.daily.length, 14);
    assert.deepEqual(d.daily[0], {
      day: dayOf(AS_OF, 14),
      reporters: 2,
      reports: 2,
      successful_sessions: 1000,
      failed_sessions: 100,
      failure_rate: 0.090909,
    });
    assert.deepEqual(
      d.failures.result_type!.map((r) => [r.key, r.failed_sessions]),
      [
        ['certificate-host-mismatch', 840],
        ['starttls-not-supported', 560],
      ],
    );
    assert.match(String(d.failures.result_type![0]!.fix), /subject alternative names/);
    assert.deepEqual(
      d.failures.receiving_mx!.map((r) => [r.key, r.failed_sessions]),
      [
        ['mx1.failing.example', 840],
        ['mx2.failing.example', 560],
      ],
    );
    assert.deepEqual(
      d.failures.sending_ip!.map((r) => [r.key, r.failed_sessions]),
      [
        ['198.51.100.1', 840],
        ['198.51.100.2', 560],
      ],
    );
    assert.equal(d.daily_by.filter((r) => r.day === dayOf(AS_OF, 1)).length, 2);
    assert.deepEqual(d.modes, [
      { modes: ['testing'], first_day: dayOf(AS_OF, 14), last_day: dayOf(AS_OF, 1), reporters: ['Google Inc.', 'Microsoft Corporation'] },
    ]);
    assert.equal(d.readiness.ready, false);

    // dual.example: tlsa and sts sessions counted once in the totals; by policy type each as reported.
    const dual = (await (await admin.get(`/api/v1/domains/dual.example?since=${since}&by=policy-type`)).json()) as typeof d;
    assert.deepEqual(dual.daily.find((r) => r.day === dayOf(AS_OF, 1))!.successful_sessions, 999);
    assert.deepEqual(
      dual.daily_by.filter((r) => r.day === dayOf(AS_OF, 1)).map((r) => [r.key, r.successful_sessions]),
      [
        ['sts', 999],
        ['tlsa', 299],
      ],
    );
    const ready = (await (await admin.get(`/api/v1/domains/ready.example?since=${since}`)).json()) as typeof d;
    assert.deepEqual(
      ready.modes.map((m) => m.modes),
      [['testing'], ['none'], ['testing']],
    );
    assert.equal((await admin.get('/api/v1/domains/unknown.example')).status, 404);
    assert.equal((await admin.get('/api/v1/domains?days=0')).status, 400);
  });

  it('lists reports, shows one with its JSON and raw bytes', async () => {
    const list = (await (await admin.get('/api/v1/reports?domain=single.example&limit=5')).json()) as { reports: Array<{ id: number }> };
    assert.equal(list.reports.length, 5);
    const one = (await (await admin.get(`/api/v1/reports/${list.reports[0]!.id}`)).json()) as Record<string, unknown>;
    assert.equal(one.channel, 'ingest');
    assert.equal((one.report_json as Record<string, unknown>)['organization-name'], 'Google Inc.');
    const raw = await admin.get(`/api/v1/reports/${list.reports[0]!.id}/raw`);
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-disposition')!, /attachment/);
    assert.equal(JSON.parse(await raw.text())['organization-name'], 'Google Inc.');
  });

  it('pages every list alike and refuses a path id that is not a positive whole number on every route', async () => {
    for (const list of ['/api/v1/domains', '/api/v1/reports', '/api/v1/quarantine', '/api/v1/alerts']) {
      for (const page of ['limit=0', 'limit=501', 'limit=x', 'offset=-1']) {
        assert.equal((await admin.get(`${list}?${page}`)).status, 400, `${list}?${page}`);
      }
      assert.equal((await admin.get(`${list}?limit=500&offset=0`)).status, 200, list);
    }
    for (const route of ['/api/v1/reports/', '/api/v1/quarantine/']) {
      for (const id of ['0', '-1', 'abc', '1.5']) {
        for (const path of [`${route}${id}`, `${route}${id}/raw`]) assert.equal((await admin.get(path)).status, 400, path);
      }
    }
    assert.equal((await admin.send('POST', '/api/v1/quarantine/abc/reprocess')).status, 400);
  });

  it('logs out: the cookie no longer works, and logging out needs the CSRF token', async () => {
    const c = await login(h, READER);
    assert.equal((await c.send('DELETE', '/api/v1/session', undefined, {})).status, 403);
    assert.equal((await c.send('DELETE', '/api/v1/session')).status, 204);
    assert.equal((await c.get('/api/v1/domains')).status, 401);
  });

  it('limits login attempts per address', async () => {
    let status = 0;
    for (let i = 0; i < 12 && status !== 429; i++) {
      const res = await fetch(h.url('/api/v1/session'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9' },
        body: JSON.stringify({ username: 'nobody', password: 'x' }),
      });
      status = res.status;
    }
    assert.equal(status, 429);
  });
});

describe('tlsrpt user', () => {
  it('adds, lists, re-keys and removes users; the password comes from standard input', async () => {
    const { createTestDatabase } = await import('../helpers/testDatabase.js');
    const db = await createTestDatabase();
    try {
      const env = { DATABASE_URL: db.url };
      assert.equal((await runCli(['user', 'add', 'alice', '--role', 'admin'], env, 'a long enough password\n')).code, 0);
      const dup = await runCli(['user', 'add', 'alice'], env, 'a long enough password\n');
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /exists/);
      const short = await runCli(['user', 'add', 'bob'], env, 'short\n');
      assert.equal(short.code, 1);
      assert.match(short.stderr, /at least 12 characters/);
      const list = JSON.parse((await runCli(['user', 'list', '--format', 'json'], env)).stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(
        list.map((u) => [u.name, u.role]),
        [['alice', 'admin']],
      );
      const hash = (await db.pool.query(`SELECT password_hash FROM users WHERE name = 'alice'`)).rows[0].password_hash as string;
      assert.match(hash, /^scrypt\$32768\$8\$1\$/);
      assert.equal((await runCli(['user', 'passwd', 'alice'], env, 'another long password\n')).code, 0);
      assert.equal((await runCli(['user', 'remove', 'alice'], env)).code, 0);
      assert.equal((await runCli(['user', 'remove', 'alice'], env)).code, 1);
    } finally {
      await db.drop();
    }
  });
});
