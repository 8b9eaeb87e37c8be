/**
 * Backfills never alert on the past (ALERT_MAX_REPORT_AGE): `tlsrpt ingest` of the real samples (reports from
 * 2016 to 2025, several with failed sessions) and of one report for yesterday, then the alert service's
 * periodic check, as a running worker would make it. Only yesterday's report joins a window; the old ones
 * are stored and counted in the views like any other, and the summary says how many were too old to alert.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listUnattachedFailingReports } from '../../src/alert/store/windowStore.js';
import { createLogger } from '../../src/log/createLogger.js';
import { startAlertService } from '../../src/services/alertService.js';
import { REAL_DIR } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { runCli } from '../helpers/runCli.js';
import { REDIS_URL } from '../helpers/services.js';
import { clearQueuePrefix, testConfig } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { ageStoredReports } from '../helpers/ageStoredReports.js';

const DAY_MS = 86_400_000;

/** A report for yesterday (UTC) with failed sessions: news, whatever else is backfilled with it. */
function yesterdaysFailingReport(): Buffer {
  const day = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10);
  const domain = 'recent.example';
  const report = {
    'organization-name': 'Recent Reporter',
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': 'tlsrpt@recent.example',
    'report-id': `${day}_recent`,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: enforce'], 'policy-domain': domain },
        summary: { 'total-successful-session-count': 10, 'total-failure-session-count': 2 },
        'failure-details': [
          { 'result-type': 'certificate-expired', 'receiving-mx-hostname': 'mx.recent.example', 'failed-session-count': 2 },
        ],
      },
    ],
  };
  return buildReportMail({ report, policyDomain: domain, submitter: 'reports.recent.example', reportId: `${day}_recent` });
}

describe('a backfill raises no alert for reports older than ALERT_MAX_REPORT_AGE', () => {
  let db: TestDatabase;
  let root: string;
  const queuePrefix = `test-backfill-alerts-${process.pid}`;

  before(async () => {
    db = await createTestDatabase();
    root = mkdtempSync(join(tmpdir(), 'tlsrpt-backfill-alerts-'));
    cpSync(REAL_DIR, join(root, 'samples'), { recursive: true });
    writeFileSync(join(root, 'yesterday.eml'), yesterdaysFailingReport());
  });
  after(async () => {
    if (root) rmSync(root, { recursive: true, force: true });
    await clearQueuePrefix(queuePrefix);
    await db?.drop();
  });

  it('stores every report, says how many are too old to alert, and only the recent one joins a window', async () => {
    const r = await runCli(['ingest', root], { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: queuePrefix });
    assert.equal(r.code, 0, r.stderr);
    const stored = Number(/^ {2}stored +(\d+)/m.exec(r.stdout)?.[1]);
    assert.ok(stored > 20, r.stdout);
    // Every sample's date range ended years ago; yesterday's report is the one not counted.
    assert.match(
      r.stdout,
      new RegExp(
        `stored +${stored} {2}\\(${stored - 1} too old to alert: their date range ended more than ALERT_MAX_REPORT_AGE \\(3d\\) before`,
      ),
    );

    // As a worker's periodic check finds them a while later (it leaves the last minute to the worker's hook).
    await ageStoredReports(db.pool, 2);
    const failingOld = await listUnattachedFailingReports(db.pool, 60_000, 2 * DAY_MS, null);
    assert.ok(failingOld.length > 1, 'without the limit, old failing reports would be attached');

    const config = testConfig(db.url, { QUEUE_PREFIX: queuePrefix });
    assert.equal(config.alerts.maxReportAgeMs, 3 * DAY_MS);
    const alerts = await startAlertService(config, createLogger('silent'));
    try {
      const check = await alerts.checkOnce();
      assert.equal(check.attached, 1);
    } finally {
      await alerts.stop();
    }
    const windows = await db.pool.query(`SELECT policy_domain FROM alert_windows`);
    assert.deepEqual(windows.rows, [{ policy_domain: 'recent.example' }]);
    const attached = await db.pool.query(
      `SELECT r.organization_name FROM alert_window_reports w JOIN reports r ON r.id = w.report_id ORDER BY 1`,
    );
    assert.deepEqual(attached.rows, [{ organization_name: 'Recent Reporter' }]);
    // Checked again: the old reports are not listed over and over, ahead of new ones.
    assert.deepEqual(await listUnattachedFailingReports(db.pool, 60_000, 2 * DAY_MS, config.alerts.maxReportAgeMs), []);

    // History still counts: every stored report is in the views.
    const inViews = await db.pool.query<{ n: number }>(`SELECT count(DISTINCT report_id)::int AS n FROM report_domain_sessions`);
    assert.equal(inViews.rows[0]!.n, stored);
  });

  it('reads ALERT_MAX_REPORT_AGE as a duration (a bare number is days) and refuses what is not one', () => {
    const age = (value: string) => testConfig(db.url, { ALERT_MAX_REPORT_AGE: value }).alerts.maxReportAgeMs;
    assert.equal(age('72h'), 3 * DAY_MS);
    assert.equal(age('2'), 2 * DAY_MS);
    assert.equal(age('1.5d'), 1.5 * DAY_MS);
    assert.equal(age('90m'), 90 * 60_000);
    assert.equal(age('2w'), 14 * DAY_MS);
    assert.throws(() => age('soon'), /ALERT_MAX_REPORT_AGE.*"soon" is not a duration; write e.g. 3d, 72h or 90m/);
    assert.throws(() => age('10m'), /ALERT_MAX_REPORT_AGE.*out of range: use 1h to 3650d/);
  });
});
