/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core): log in, read the Domains
 * page, open a domain of the crafted stats set and check its figures against the SQL views, reprocess a
 * quarantined message, look at a report and the alerts, log out; and the refusals a browser meets (no
 * session, no CSRF token, a public address). Screenshots of each page go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createLogger } from '../../src/log/createLogger.js';
import { acceptRawMessage } from '../../src/receive/acceptRawMessage.js';
import { formatPercent } from '../../src/stats/formatRows.js';
import { ADMIN, startDashboardHarness } from '../api/dashboardHarness.js';
import { GOOGLE } from '../helpers/craftedStatsSet.js';
import type { HttpHarness } from '../helpers/httpHarness.js';
import { launchChromium, screenshot } from './browser.js';

describe('dashboard in a browser', () => {
  let h: HttpHarness;
  let browser: Browser;
  let page: Page;
  let quarantinedId: number;

  before(async () => {
    browser = await launchChromium();
    h = await startDashboardHarness({ HTTP_TRUST_PROXY: '127.0.0.1' });
    // A valid report that an older version quarantined: reprocessing stores it.
    const report = {
      'organization-name': GOOGLE,
      'date-range': { 'start-datetime': '2020-01-01T00:00:00Z', 'end-datetime': '2020-01-01T23:59:59Z' },
      'contact-info': 'tlsrpt@google.example',
      'report-id': 'quarantined-then-reprocessed',
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing'], 'policy-domain': 'old.example' },
          summary: { 'total-successful-session-count': 5, 'total-failure-session-count': 0 },
        },
      ],
    };
    quarantinedId = await acceptRawMessage(
      { pool: h.db.pool, enqueue: () => Promise.resolve(), log: createLogger('silent') },
      Buffer.from(JSON.stringify(report)),
      { channel: 'http', remoteAddress: '192.0.2.44' },
    );
    await h.db.pool.query(
      `UPDATE raw_messages SET status = 'quarantined', reason = 'schema-violation', detail = '$: crafted for the dashboard test' WHERE id = $1`,
      [quarantinedId],
    );
    // An alert as the alert service records one, delivered to one destination and failed at another.
    await h.db.pool.query(
      `WITH a AS (
         INSERT INTO alerts (dedupe_key, kind, severity, policy_domain, subject, body_text, content, status)
         VALUES ('ui-test-1', 'failed-sessions', 'critical', 'failing.example', 'TLS failures for failing.example: 100 sessions',
                 'body', '{}', 'partly-delivered') RETURNING id),
       i AS (INSERT INTO alert_items (alert_id, result_type, failed_sessions, critical, triggered)
             SELECT id, 'certificate-host-mismatch', 60, true, true FROM a)
       INSERT INTO alert_deliveries (alert_id, destination_kind, destination_key, target, status, attempts, last_error_code, last_error)
       SELECT id, 'webhook', 'w1', 'https://hooks.example/…', 'delivered', 1, NULL, NULL FROM a
       UNION ALL SELECT id, 'email', 'e1', 'ops@example.com', 'failed', 5, 'smtp-rejected', '550 no such user' FROM a`,
    );
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('sends an API request without a session to 401, and the page to the login form', async () => {
    const res = await page.request.get(h.url('/api/v1/domains'));
    assert.equal(res.status(), 401);
    await page.goto(h.url('/ui/'));
    await page.waitForSelector('form.login');
    await screenshot(page, '0-login');
  });

  it('refuses a public client address by default', async () => {
    const res = await page.request.get(h.url('/ui/'), { headers: { 'x-forwarded-for': '203.0.113.7' } });
    assert.equal(res.status(), 403);
  });

  it('logs in and lists the domains with their verdicts', async () => {
    await page.fill('input[name=username]', ADMIN.username);
    await page.fill('input[name=password]', ADMIN.password);
    await page.click('form.login button[type=submit]');
    await page.waitForSelector('table.domains tbody tr');
    const domains = await page.$$eval('table.domains tbody tr', (rows) => rows.map((r) => r.getAttribute('data-domain')));
    assert.deepEqual(domains, [
      'dual.example',
      'failing.example',
      'fewdays.example',
      'ready.example',
      'single.example',
      'tiebreak.example',
    ]);
    assert.equal((await page.locator('canvas').count()) >= domains.length, true, 'a sparkline per domain');
    await screenshot(page, '1-domains');
  });

  it('opens a domain and shows the figures of the SQL views', async () => {
    await page.click('a[href="#/domain/failing.example"]');
    await page.waitForSelector('#verdict');
    await page.waitForSelector('#chart-daily canvas');
    const [view] = (
      await h.db.pool.query(
        `SELECT successful_sessions, failed_sessions, failure_rate::float8 AS rate FROM enforce_readiness WHERE policy_domain = 'failing.example'`,
      )
    ).rows;
    assert.equal(await page.textContent('#window-failed'), view.failed_sessions.toLocaleString('en'));
    assert.equal(await page.textContent('#window-sessions'), (view.successful_sessions + view.failed_sessions).toLocaleString('en'));
    assert.equal(await page.textContent('#window-rate'), formatPercent(view.rate));
    assert.match((await page.textContent('#verdict'))!, /Not ready/);
    const failures = (
      await h.db.pool.query(
        `SELECT result_type, sum(failed_sessions)::bigint AS n FROM failure_stats WHERE policy_domain = 'failing.example'
         AND day >= (now() AT TIME ZONE 'UTC')::date - 30 GROUP BY 1 ORDER BY 2 DESC`,
      )
    ).rows;
    const shown = await page.$$eval('#result-types tbody tr', (rows) =>
      rows.map((r) => [r.children[0]!.textContent, r.children[1]!.textContent]),
    );
    assert.deepEqual(
      shown,
      failures.map((f) => [f.result_type, Number(f.n).toLocaleString('en')]),
    );
    await screenshot(page, '2-domain');
  });

  it('shows a report with its JSON and a raw download', async () => {
    await page.click('table.reports tbody tr:first-child a');
    await page.waitForSelector('pre.json');
    assert.match((await page.textContent('pre.json'))!, /"organization-name"/);
    await screenshot(page, '3-report');
  });

  it('refuses an action without the CSRF token, and reprocesses a quarantined message with it', async () => {
    await page.goto(h.url('/ui/#/quarantine'));
    await page.waitForSelector('table.messages');
    const status = await page.evaluate(
      async (id) => (await fetch(`/api/v1/quarantine/${id}/reprocess`, { method: 'POST' })).status,
      quarantinedId,
    );
    assert.equal(status, 403);
    await screenshot(page, '4-quarantine');
    await page.click(`table.messages a[href="#/quarantine/${quarantinedId}"]`);
    await page.waitForSelector('dl.fields');
    assert.match((await page.textContent('dl.fields'))!, /crafted for the dashboard test/);
    await screenshot(page, '4-message');
    await page.goBack();
    await page.waitForSelector('table.messages button.reprocess');
    await page.click('table.messages button.reprocess');
    await page.waitForSelector('#reprocess-status:has-text("stored")');
    const [row] = (await h.db.pool.query(`SELECT status FROM raw_messages WHERE id = $1`, [quarantinedId])).rows;
    assert.equal(row.status, 'stored');
  });

  it('shows the alerts page', async () => {
    await page.click('a[data-nav=alerts]');
    await page.waitForSelector('h1:text("Alerts")');
    assert.match((await page.textContent('table.alerts'))!, /smtp-rejected/);
    await screenshot(page, '5-alerts');
  });

  it('logs out: the login form again, and the API answers 401', async () => {
    await page.click('#logout');
    await page.waitForSelector('form.login');
    const status = await page.evaluate(async () => (await fetch('/api/v1/domains')).status);
    assert.equal(status, 401);
  });
});
