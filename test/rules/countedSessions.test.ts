/**
 * The counted policy type of a report and domain: one table of cases (countedSessions.cases.ts) through the
 * TypeScript rule and through the SQL views every total reads; then issue 12's report (tlsa {100, 0}, sts
 * {90, 10}) through the alert, `tlsrpt stats`, the daily views and the readiness verdict: 10 % everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { evaluateWindow } from '../../src/alert/decide/evaluateWindow.js';
import { attachReports, loadWindowReports } from '../../src/alert/store/windowStore.js';
import { withTransaction } from '../../src/db/pool.js';
import { POLICY_TYPE_PRECEDENCE, countedSessions, policyTypePrecedence } from '../../src/rules/countedSessions.js';
import { reportDay } from '../../src/rules/reportDay.js';
import { buildStatsQuery } from '../../src/stats/buildStatsQuery.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { COUNTED_SESSIONS_CASES } from './countedSessions.cases.js';
import { insertReportRows, storeReport } from './storeReport.js';

const DAY = '2026-01-15';
const domainOf = (i: number) => `case-${i}.example`;

describe('the counted policy type: one table of cases, TypeScript and SQL', () => {
  let db: TestDatabase;
  const reportIds: number[] = [];
  before(async () => {
    db = await createTestDatabase();
    for (const [i, c] of COUNTED_SESSIONS_CASES.entries()) {
      reportIds.push(await insertReportRows(db.pool, { day: DAY, domain: domainOf(i), policies: c.policies }));
    }
  });
  after(() => db?.drop());

  for (const [i, c] of COUNTED_SESSIONS_CASES.entries()) {
    it(c.name, async () => {
      assert.deepEqual(countedSessions(c.policies), c.counted, 'TypeScript');
      const { counted } = c;
      const perReport = await db.pool.query(
        `SELECT policy_type, successful_sessions, failed_sessions FROM report_domain_sessions WHERE report_id = $1`,
        [reportIds[i]],
      );
      assert.deepEqual(
        perReport.rows,
        [{ policy_type: counted.policyType, successful_sessions: counted.successfulSessions, failed_sessions: counted.failedSessions }],
        'report_domain_sessions',
      );
      const perDay = await db.pool.query(`SELECT successful_sessions, failed_sessions FROM daily_domain_stats WHERE policy_domain = $1`, [
        domainOf(i),
      ]);
      assert.deepEqual(
        perDay.rows,
        [{ successful_sessions: counted.successfulSessions, failed_sessions: counted.failedSessions }],
        'daily_domain_stats (per-day totals)',
      );
    });
  }

  it('numbers the tie order as policy_type_precedence() does', async () => {
    const types = [...POLICY_TYPE_PRECEDENCE, 'x-other'];
    const res = await db.pool.query<{ t: string; n: number }>(`SELECT t, policy_type_precedence(t) AS n FROM unnest($1::text[]) AS t`, [
      types,
    ]);
    assert.deepEqual(
      res.rows.map((r) => [r.t, r.n]),
      types.map((t) => [t, policyTypePrecedence(t)]),
    );
  });
});

describe('one report with tlsa {100, 0} and sts {90, 10}: 10 % in the alert, stats, views and readiness', () => {
  let db: TestDatabase;
  let reportId: number;
  const start = '2026-01-14T00:00:00Z';
  const end = '2026-01-14T23:59:59Z';
  const domain = 'dual.example';
  before(async () => {
    db = await createTestDatabase();
    reportId = await storeReport(db.pool, {
      start,
      end,
      policies: [
        { type: 'tlsa', domain, policyString: ['3 1 1 0123456789ABCDEF'], ok: 100, failed: 0 },
        {
          type: 'sts',
          domain,
          policyString: ['version: STSv1', 'mode: testing', 'mx: mx.dual.example', 'max_age: 86400'],
          ok: 90,
          failed: 10,
        },
      ],
    });
  });
  after(() => db?.drop());

  it('the alert counts 90 ok, 10 failed: 10 %', async () => {
    const [opened] = await attachReports(db.pool, [reportId], 0);
    assert.ok(opened, 'a failing report opens a window');
    const reports = await withTransaction(db.pool, (c) => loadWindowReports(c, opened.windowId));
    const e = evaluateWindow({
      policyDomain: domain,
      openedAt: new Date(),
      closesAt: new Date(),
      reports,
      history: [],
      rule: {
        enabled: true,
        warning: { minFailedSessions: 1, minFailurePercent: 0 },
        critical: { minFailedSessions: 1, minFailurePercent: 0 },
        quietReporterDays: 0,
      },
      cooldownMs: 0,
      growthFactor: 2,
    });
    assert.deepEqual(e.totals, { successful: 90, failed: 10, criticalFailed: 0 });
    assert.equal(e.outcome, 'alert');
    if (e.outcome === 'alert') assert.deepEqual(e.alert.sessions, { successful: 90, failed: 10, failurePercent: 10 });
  });

  it('daily_domain_stats and `tlsrpt stats` count 90 ok, 10 failed: 10 %', async () => {
    const day = reportDay(new Date(start), new Date(end));
    const daily = await db.pool.query(
      `SELECT day::text, successful_sessions, failed_sessions FROM daily_domain_stats WHERE policy_domain = $1`,
      [domain],
    );
    assert.deepEqual(daily.rows, [{ day, successful_sessions: 90, failed_sessions: 10 }]);
    const stats = buildStatsQuery({ by: 'domain', domains: [domain], since: day });
    const row = (await db.pool.query(stats.text, stats.values)).rows[0];
    assert.deepEqual([row.successful_sessions, row.failed_sessions, row.failure_rate], [90, 10, 0.1]);
  });

  it('enforce_readiness counts 90 ok, 10 failed: 10 %, in the table and in the reason', async () => {
    const res = await db.pool.query(
      `SELECT successful_sessions, failed_sessions, failure_rate::float8 AS failure_rate, reason
       FROM enforce_readiness_for(14, 0.001, 0, 0, '2026-01-15')`,
    );
    assert.deepEqual(res.rows, [
      {
        successful_sessions: 90,
        failed_sessions: 10,
        failure_rate: 0.1,
        reason: 'Failure rate 10% (10 of 100 sessions) is above the 0.1% maximum. 0 of 1 reporter authenticated.',
      },
    ]);
  });
});
