/**
 * The SQL views of migrations/0002 over the crafted set (test/helpers/craftedStatsSet.ts), loaded through
 * the worker's own path (raw message -> processMessage). Every expected number is worked out by hand from
 * what the set's reporters sent; the comments show the sums.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { craftedStatsSet, dayOf, GOOGLE, MICROSOFT, WEEKLY } from '../helpers/craftedStatsSet.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { storeReport } from '../rules/storeReport.js';
import { formatPercent } from '../../src/stats/formatRows.js';

const AS_OF = new Date().toISOString().slice(0, 10);
const d = (k: number) => dayOf(AS_OF, k);

describe('stats views over a crafted multi-day, multi-reporter set', () => {
  let db: TestDatabase;
  const q = async (sql: string, values: unknown[] = []) => (await db.pool.query(sql, values)).rows;

  before(async () => {
    db = await createTestDatabase();
    for (const r of craftedStatsSet(AS_OF)) {
      const id = await insertRawMessage(db.pool, Buffer.from(JSON.stringify(r.json)), { channel: 'ingest' });
      const result = await processMessage({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1 }, id);
      assert.equal(result.outcome, 'stored', `${r.filename}: ${JSON.stringify(result)}`);
    }
    // Into the daily totals, as a worker's rollup job would within seconds.
    await foldRollups(db.pool);
  });
  after(() => db?.drop());

  it('attributes a report to the UTC day of its range, once, whatever the end convention', async () => {
    const [row] = await q(`SELECT
      report_day('2024-03-01T00:00:00Z', '2024-03-01T23:59:59Z')::text AS google,
      report_day('2024-03-01T00:00:00Z', '2024-03-02T00:00:00Z')::text AS next_midnight,
      report_day('2024-02-29T23:00:00Z', '2024-03-01T23:00:00Z')::text AS local_midnight,
      report_day('2020-01-01T00:00:00Z', '2020-01-07T23:59:59Z')::text AS seven_days,
      report_day('2002-02-14T05:00:12Z', '2002-02-15T04:58:50Z')::text AS rfc_example`);
    assert.deepEqual(row, {
      google: '2024-03-01',
      next_midnight: '2024-03-01',
      local_midnight: '2024-03-01',
      seven_days: '2020-01-01',
      rfc_example: '2002-02-14',
    });
    // Microsoft's ranges in the set end at the next midnight: ten reports, ten days, none on asOf.
    const ms = await q(
      `SELECT day::text, successful_sessions, failed_sessions, reports FROM daily_policy_stats
       WHERE policy_domain = 'ready.example' AND organization_name = $1 ORDER BY day DESC`,
      [MICROSOFT],
    );
    assert.deepEqual(
      ms,
      Array.from({ length: 10 }, (_, i) => ({ day: d(i + 1), successful_sessions: 500, failed_sessions: 0, reports: 1 })),
    );
    // The 7-day report counts whole on its first day.
    const weekly = await q(`SELECT day::text, successful_sessions FROM daily_domain_stats WHERE organization_name = $1`, [WEEKLY]);
    assert.deepEqual(weekly, [{ day: d(7), successful_sessions: 700 }]);
  });

  it('daily_policy_stats shows tlsa and sts separately; daily_domain_stats counts those sessions once', async () => {
    const perType = await q(
      `SELECT policy_type, organization_name, successful_sessions, failed_sessions, reports FROM daily_policy_stats
       WHERE policy_domain = 'dual.example' AND day = $1 ORDER BY policy_type, organization_name`,
      [d(1)],
    );
    assert.deepEqual(perType, [
      { policy_type: 'sts', organization_name: GOOGLE, successful_sessions: 700, failed_sessions: 0, reports: 1 },
      { policy_type: 'sts', organization_name: MICROSOFT, successful_sessions: 299, failed_sessions: 1, reports: 1 },
      { policy_type: 'tlsa', organization_name: MICROSOFT, successful_sessions: 299, failed_sessions: 1, reports: 1 },
    ]);
    const perDomain = await q(
      `SELECT organization_name, successful_sessions, failed_sessions, reports FROM daily_domain_stats
       WHERE policy_domain = 'dual.example' AND day = $1 ORDER BY organization_name`,
      [d(1)],
    );
    assert.deepEqual(perDomain, [
      { organization_name: GOOGLE, successful_sessions: 700, failed_sessions: 0, reports: 1 },
      { organization_name: MICROSOFT, successful_sessions: 299, failed_sessions: 1, reports: 1 },
    ]);
    // 10 days x (Google 700 + Microsoft 299) = 9990 ok; 10 x 1 failed. Adding the tlsa rows would give 12980 / 20.
    const [total] = await q(
      `SELECT sum(successful_sessions)::int AS ok, sum(failed_sessions)::int AS failed FROM daily_domain_stats WHERE policy_domain = 'dual.example'`,
    );
    assert.deepEqual(total, { ok: 9990, failed: 10 });
  });

  it('counts the policy type with the most sessions when a report lists a domain under two types', async () => {
    const rows = await q(
      `SELECT policy_domain, policy_type, successful_sessions FROM report_domain_sessions
       WHERE policy_domain IN ('tiebreak.example', 'dual.example') AND day IN ($1, $2) ORDER BY policy_domain, organization_name`,
      [d(1), d(20)],
    );
    assert.deepEqual(rows, [
      { policy_domain: 'dual.example', policy_type: 'sts', successful_sessions: 700 }, // Google, sts only
      { policy_domain: 'dual.example', policy_type: 'sts', successful_sessions: 299 }, // Microsoft: a tie, sts first
      { policy_domain: 'tiebreak.example', policy_type: 'tlsa', successful_sessions: 10 }, // tlsa 10 > sts 8
    ]);
  });

  it('failure_stats lists each failure once, from the counted policy type, with its hosts', async () => {
    const failing = await q(
      `SELECT organization_name, result_type, receiving_mx_hostname, receiving_ip, sending_mta_ip, failed_sessions,
              additional_information, failure_reason_code
       FROM failure_stats WHERE policy_domain = 'failing.example' AND day = $1 ORDER BY result_type`,
      [d(1)],
    );
    assert.deepEqual(failing, [
      {
        organization_name: GOOGLE,
        result_type: 'certificate-host-mismatch',
        receiving_mx_hostname: 'mx1.failing.example',
        receiving_ip: '192.0.2.10',
        sending_mta_ip: '198.51.100.1',
        failed_sessions: 60,
        additional_information: null,
        failure_reason_code: null,
      },
      {
        organization_name: GOOGLE,
        result_type: 'starttls-not-supported',
        receiving_mx_hostname: 'mx2.failing.example',
        receiving_ip: '192.0.2.20',
        sending_mta_ip: '198.51.100.2',
        failed_sessions: 40,
        additional_information: null,
        failure_reason_code: null,
      },
    ]);
    // dual.example: the sts failure is counted, the same session's tlsa-invalid under tlsa is not.
    const dual = await q(
      `SELECT result_type, count(*)::int AS days, sum(failed_sessions)::int AS failed FROM failure_stats
       WHERE policy_domain = 'dual.example' GROUP BY result_type`,
    );
    assert.deepEqual(dual, [{ result_type: 'certificate-host-mismatch', days: 10, failed: 10 }]);
    // 14 days x (60 + 40)
    const [sum] = await q(`SELECT sum(failed_sessions)::int AS failed FROM failure_stats WHERE policy_domain = 'failing.example'`);
    assert.equal(sum.failed, 1400);
  });

  const READINESS_SQL = `SELECT policy_domain, policy_mode, days_with_reports, reporters, successful_sessions, failed_sessions,
                                failure_rate::float8 AS failure_rate, top_result_type, ready, reason`;

  /** enforce_readiness_for(14, 0.001, 7, 2) on asOf: the window is days k = 1..14. */
  const EXPECTED_DEFAULT = [
    {
      // Microsoft 10 x 299 (sts counted once) + Google 10 x 700 = 9990 ok; 10 failed; 10 / 10000 = 0.1%, the maximum itself.
      policy_domain: 'dual.example',
      policy_mode: 'testing',
      days_with_reports: 10,
      reporters: 2,
      successful_sessions: 9990,
      failed_sessions: 10,
      failure_rate: 0.001,
      top_result_type: 'certificate-host-mismatch',
      ready: true,
      reason:
        'Reports on 10 of the last 14 days from 2 reporters; failure rate 0.1% (10 of 10000 sessions) is within the 0.1% maximum. 0 of 2 reporters authenticated.',
    },
    {
      // Google 14 x (900 + 100), Microsoft 14 x 100: 14000 ok, 1400 failed; 1400 / 15400 = 9.0909%.
      // certificate-host-mismatch 14 x 60 = 840 > starttls-not-supported 14 x 40 = 560.
      policy_domain: 'failing.example',
      policy_mode: 'testing',
      days_with_reports: 14,
      reporters: 2,
      successful_sessions: 14000,
      failed_sessions: 1400,
      failure_rate: 0.09091, // rounded to 5 decimals: the 9.091% the reason prints
      top_result_type: 'certificate-host-mismatch',
      ready: false,
      reason:
        'Failure rate 9.091% (1400 of 15400 sessions) is above the 0.1% maximum; most failed sessions: certificate-host-mismatch. 0 of 2 reporters authenticated.',
    },
    {
      // Days k = 1..4 and 7 (the weekly report's first day): 5 < 7. 4 x 200 + 4 x 100 + 700 = 1900 ok.
      policy_domain: 'fewdays.example',
      policy_mode: 'testing',
      days_with_reports: 5,
      reporters: 3,
      successful_sessions: 1900,
      failed_sessions: 0,
      failure_rate: 0,
      top_result_type: null,
      ready: false,
      reason: 'Reports on only 5 of the last 14 days, fewer than the 7 required. 0 of 3 reporters authenticated.',
    },
    {
      // Google 13 x 1000 + 999, Microsoft 10 x 500 = 18999 ok, 1 failed; 1 / 19000 = 0.0053%. The k = 0 and k = 20
      // reports are outside the window; mode "none" of k = 12..14 was replaced by "testing".
      policy_domain: 'ready.example',
      policy_mode: 'testing',
      days_with_reports: 14,
      reporters: 2,
      successful_sessions: 18999,
      failed_sessions: 1,
      failure_rate: 0.00005, // the 0.005% the reason prints
      top_result_type: 'certificate-expired',
      ready: true,
      reason:
        'Reports on 14 of the last 14 days from 2 reporters; failure rate 0.005% (1 of 19000 sessions) is within the 0.1% maximum. 0 of 2 reporters authenticated.',
    },
    {
      policy_domain: 'single.example',
      policy_mode: 'enforce',
      days_with_reports: 14,
      reporters: 1,
      successful_sessions: 700,
      failed_sessions: 0,
      failure_rate: 0,
      top_result_type: null,
      ready: false,
      reason:
        'Reports from only 1 reporter (Google Inc.), fewer than the 2 required. The MTA-STS policy is already in enforce mode. 0 of 1 reporter authenticated.',
    },
  ];

  it('enforce_readiness_for judges each domain with the default rule, and says why', async () => {
    assert.deepEqual(await q(`${READINESS_SQL} FROM enforce_readiness_for(14, 0.001, 7, 2, $1)`, [AS_OF]), EXPECTED_DEFAULT);
  });

  it('the enforce_readiness view is the function with its defaults, today', async () => {
    assert.deepEqual(await q(`${READINESS_SQL} FROM enforce_readiness`), EXPECTED_DEFAULT);
  });

  it('takes other thresholds and windows', async () => {
    const lax = await q(`SELECT policy_domain, ready FROM enforce_readiness_for(14, 0.1, 4, 1, $1)`, [AS_OF]);
    assert.ok(
      lax.every((r) => r.ready),
      JSON.stringify(lax),
    );
    // Three days (k = 1..3): Google 3 x 200 + Microsoft 3 x 100; the weekly report (k = 7) is outside.
    const [few] = await q(`${READINESS_SQL} FROM enforce_readiness_for(3, 0.001, 3, 2, $1) WHERE policy_domain = 'fewdays.example'`, [
      AS_OF,
    ]);
    assert.deepEqual([few.days_with_reports, few.reporters, few.successful_sessions, few.ready], [3, 2, 900, true]);
    // A stricter maximum blocks dual.example, which sits exactly at 0.1%.
    const [dual] = await q(`SELECT ready, reason FROM enforce_readiness_for(14, 0.0009, 7, 2, $1) WHERE policy_domain = 'dual.example'`, [
      AS_OF,
    ]);
    assert.deepEqual(dual, {
      ready: false,
      reason:
        'Failure rate 0.1% (10 of 10000 sessions) is above the 0.09% maximum; most failed sessions: certificate-host-mismatch. 0 of 2 reporters authenticated.',
    });
  });

  it('refuses thresholds that make no sense, naming the argument', async () => {
    await assert.rejects(db.pool.query(`SELECT * FROM enforce_readiness_for(14, 0.001, 15)`), (err: { code?: string; message: string }) => {
      assert.equal(err.code, '22023');
      assert.match(err.message, /min_days must be from 0 to window_days \(14\), not 15/);
      return true;
    });
    await assert.rejects(db.pool.query(`SELECT * FROM enforce_readiness_for(14, 2)`), /max_failure_rate must be a fraction/);
  });
});

describe('enforce_readiness words what it decides: one rounding, "1 reporter", no sts policy is not ready', () => {
  let db: TestDatabase;
  const day = (k: number) => dayOf('2026-01-15', k);
  before(async () => {
    db = await createTestDatabase();
    // rounding.example: 1535 failed of 1,000,000 sessions = 0.1535 %, the half-way case a rounding of a
    // rounding (or of a binary fraction) gets wrong in one of two places.
    await storeReport(db.pool, {
      start: `${day(1)}T00:00:00Z`,
      end: `${day(1)}T23:59:59Z`,
      policies: [{ type: 'sts', domain: 'rounding.example', policyString: ['mode: testing'], ok: 998_465, failed: 1535 }],
    });
    // dane.example: DANE only, no MTA-STS policy in any report.
    for (const org of [GOOGLE, MICROSOFT]) {
      await storeReport(db.pool, {
        organization: org,
        start: `${day(1)}T00:00:00Z`,
        end: `${day(1)}T23:59:59Z`,
        policies: [{ type: 'tlsa', domain: 'dane.example', policyString: ['3 1 1 0123456789ABCDEF'], ok: 100, failed: 0 }],
      });
    }
  });
  after(() => db?.drop());

  const verdict = async (domain: string, minReporters = 2, windowDays = 14) =>
    (
      await db.pool.query(
        `SELECT ready, failure_rate::float8 AS failure_rate, reason
         FROM enforce_readiness_for($2, 0.001, 1, $3, '2026-01-15') WHERE policy_domain = $1`,
        [domain, windowDays, minReporters],
      )
    ).rows[0];

  it('prints in the reason the failure rate of the table, rounded once', async () => {
    const v = await verdict('rounding.example');
    assert.equal(v.failure_rate, 0.00154);
    assert.equal(formatPercent(v.failure_rate), '0.154%');
    assert.match(v.reason, /failure rate 0\.154% \(1535 of 1000000 sessions\) is above the 0\.1% maximum/i);
  });

  it('says "1 reporter" and "the last day"', async () => {
    const v = await verdict('rounding.example', 3, 1);
    assert.match(v.reason, /^Reports from only 1 reporter \(Example Reporter\), fewer than the 3 required; /);
    const wide = await db.pool.query(
      `SELECT reason FROM enforce_readiness_for(1, 0.01, 1, 1, '2026-01-15') WHERE policy_domain = 'rounding.example'`,
    );
    assert.equal(
      wide.rows[0].reason,
      'Reports on 1 of the last 1 day from 1 reporter; failure rate 0.154% (1535 of 1000000 sessions) is within the 1% maximum. 0 of 1 reporter authenticated.',
    );
  });

  it('does not call a domain without an sts policy ready, and says why', async () => {
    const v = await verdict('dane.example');
    assert.deepEqual(v, {
      ready: false,
      failure_rate: 0,
      reason:
        'No MTA-STS policy reported: no report quotes an sts policy with a mode, so there is no MTA-STS policy to enforce. 0 of 2 reporters authenticated.',
    });
  });
});
