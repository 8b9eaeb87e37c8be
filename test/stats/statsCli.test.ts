/**
 * `tlsrpt stats` and `tlsrpt readiness` as a user runs them: real child processes against a test database
 * holding the crafted set (test/helpers/craftedStatsSet.ts), which is loaded with `tlsrpt ingest`.
 * Expected numbers are worked out by hand (the sums are in the comments) and must equal the views'.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { craftedStatsSet, dayOf } from '../helpers/craftedStatsSet.js';
import { createIngestedDatabase, type IngestedDatabase } from '../helpers/ingestedDatabase.js';
import { runCli } from '../helpers/runCli.js';

const AS_OF = new Date().toISOString().slice(0, 10);
const d = (k: number) => dayOf(AS_OF, k);

describe('tlsrpt stats and readiness', () => {
  let ingested: IngestedDatabase;
  let env: Record<string, string>;
  const cli = (...args: string[]) => ingested.cli(...args);

  before(async () => {
    ingested = await createIngestedDatabase('stats-cli', craftedStatsSet(AS_OF));
    env = ingested.env;
  });
  after(() => ingested?.db.drop());

  it('prints totals per domain since a day as JSON, sessions under tlsa and sts counted once', async () => {
    const r = await cli('stats', '--since', d(14), '--format', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [
      // 10 x (Google 700 + Microsoft 299) = 9990 ok, 10 failed, 20 reports
      {
        policy_domain: 'dual.example',
        days: 10,
        reporters: 2,
        reports: 20,
        successful_sessions: 9990,
        failed_sessions: 10,
        failure_rate: 0.001,
      },
      // 14 x (900 + 100) ok, 14 x 100 failed: 1400 / 15400
      {
        policy_domain: 'failing.example',
        days: 14,
        reporters: 2,
        reports: 28,
        successful_sessions: 14000,
        failed_sessions: 1400,
        failure_rate: 0.090909,
      },
      // 4 x 200 + 4 x 100 + 700
      {
        policy_domain: 'fewdays.example',
        days: 5,
        reporters: 3,
        reports: 9,
        successful_sessions: 1900,
        failed_sessions: 0,
        failure_rate: 0,
      },
      // k = 0..14: 18999 + 10 ok, 1 + 10 failed; 11 / 19020 = 0.000578
      {
        policy_domain: 'ready.example',
        days: 15,
        reporters: 2,
        reports: 25,
        successful_sessions: 19009,
        failed_sessions: 11,
        failure_rate: 0.000578,
      },
      {
        policy_domain: 'single.example',
        days: 14,
        reporters: 1,
        reports: 14,
        successful_sessions: 700,
        failed_sessions: 0,
        failure_rate: 0,
      },
    ]);
  });

  it('prints an aligned table by day', async () => {
    const r = await cli('stats', '--domain', 'READY.example.', '--since', d(3), '--by', 'day');
    assert.equal(r.code, 0, r.stderr);
    // k = 3: Google 999 + Microsoft 500 ok, 1 failed; k = 2, 1: 1000 + 500; k = 0: Google alone, 10 and 10.
    assert.equal(
      r.stdout,
      [
        'day         policy_domain  reporters  reports  successful_sessions  failed_sessions  failure_rate',
        `${d(3)}  ready.example          2        2                 1499                1        0.067%`,
        `${d(2)}  ready.example          2        2                 1500                0            0%`,
        `${d(1)}  ready.example          2        2                 1500                0            0%`,
        `${d(0)}  ready.example          1        1                   10               10           50%`,
        '',
      ].join('\n'),
    );
  });

  it('breaks totals down per reporter, per policy type (as CSV), per result type and per MX', async () => {
    const byReporter = await cli('stats', '--domain', 'fewdays.example', '--by', 'reporter', '--format', 'json');
    assert.deepEqual(
      JSON.parse(byReporter.stdout).map((x: Record<string, unknown>) => [x.organization_name, x.days, x.reports, x.successful_sessions]),
      [
        ['Example Weekly Reporter', 1, 1, 700],
        ['Google Inc.', 4, 4, 800],
        ['Microsoft Corporation', 4, 4, 400],
      ],
    );

    // Only this breakdown shows tlsa beside sts: 10 x 299 ok and 10 failed under each; sts adds Google's 7000.
    const byType = await cli('stats', '--domain', 'dual.example', '--by', 'policy-type', '--format', 'csv');
    assert.equal(
      byType.stdout,
      'policy_domain,policy_type,reporters,reports,successful_sessions,failed_sessions,failure_rate\r\n' +
        'dual.example,sts,2,20,9990,10,0.001\r\n' +
        'dual.example,tlsa,1,10,2990,10,0.003333\r\n',
    );

    const byResult = await cli(
      'stats',
      '--domain',
      'failing.example',
      '--domain',
      'dual.example',
      '--by',
      'result-type',
      '--format',
      'json',
    );
    assert.deepEqual(JSON.parse(byResult.stdout), [
      { policy_domain: 'dual.example', result_type: 'certificate-host-mismatch', reporters: 1, failed_sessions: 10 },
      { policy_domain: 'failing.example', result_type: 'certificate-host-mismatch', reporters: 1, failed_sessions: 840 },
      { policy_domain: 'failing.example', result_type: 'starttls-not-supported', reporters: 1, failed_sessions: 560 },
    ]);

    const byMx = await cli('stats', '--domain', 'failing.example', '--by', 'mx');
    assert.equal(
      byMx.stdout,
      [
        'policy_domain    receiving_mx_hostname  failed_sessions  result_types',
        'failing.example  mx1.failing.example                840  certificate-host-mismatch',
        'failing.example  mx2.failing.example                560  starttls-not-supported',
        '',
      ].join('\n'),
    );
  });

  it('says so when nothing matches, and refuses a malformed day', async () => {
    const none = await cli('stats', '--domain', 'unknown.example');
    assert.equal(none.code, 0);
    assert.match(
      none.stdout,
      /^No reports for unknown\.example since \d{4}-\d{2}-\d{2}\.\nTo look further back than the default 30 days, give --since YYYY-MM-DD\.\n$/,
    );
    const bad = await cli('stats', '--since', '2025-02-30');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /"2025-02-30" is not a day in the form YYYY-MM-DD/);
  });

  it('readiness prints each verdict with its reason and exits 1 when any domain is not ready', async () => {
    const r = await cli('readiness');
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(
      lines[0],
      'policy_domain    policy_mode  ready  days_with_reports  reporters  successful_sessions  failed_sessions  failure_rate  top_result_type',
    );
    assert.equal(
      lines[1],
      'dual.example     testing      yes                   10          2                 9990               10          0.1%  certificate-host-mismatch',
    );
    assert.equal(
      lines[2],
      'failing.example  testing      no                    14          2                14000             1400        9.091%  certificate-host-mismatch',
    );
    assert.ok(
      r.stdout.includes(
        'fewdays.example: NOT READY. Reports on only 5 of the last 14 days, fewer than the 7 required. 0 of 3 reporters authenticated.\n' +
          'ready.example: ready. Reports on 14 of the last 14 days from 2 reporters; failure rate 0.005% (1 of 19000 sessions) is within the 0.1% maximum. 0 of 2 reporters authenticated.\n' +
          'single.example: NOT READY. Reports from only 1 reporter (Google Inc.), fewer than the 2 required. The MTA-STS policy is already in enforce mode. 0 of 1 reporter authenticated.\n',
      ),
      r.stdout,
    );
  });

  it('readiness exits 0 when every listed domain is ready, and follows the thresholds given', async () => {
    const ok = await cli('readiness', '--domain', 'ready.example', '--domain', 'dual.example');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    // dual.example sits at exactly 0.1%: a 0.05% maximum blocks it.
    const strict = await cli('readiness', '--domain', 'dual.example', '--max-failure-rate', '0.05%', '--format', 'json');
    assert.equal(strict.code, 1);
    const [row] = JSON.parse(strict.stdout);
    assert.equal(row.ready, false);
    assert.equal(
      row.reason,
      'Failure rate 0.1% (10 of 10000 sessions) is above the 0.05% maximum; most failed sessions: certificate-host-mismatch. 0 of 2 reporters authenticated.',
    );

    const oneReporter = await cli('readiness', '--domain', 'single.example', '--min-reporters', '1');
    assert.equal(oneReporter.code, 0, oneReporter.stdout);

    // Three days back: fewdays.example has Google and Microsoft on each of them (the weekly report is older).
    const shortWindow = await cli('readiness', '--domain', 'fewdays.example', '--days', '3', '--min-days', '3', '--format', 'csv');
    assert.equal(shortWindow.code, 0, shortWindow.stdout);
    assert.match(
      shortWindow.stdout,
      /^fewdays\.example,testing,true,3,2,900,0,0,,Reports on 3 of the last 3 days from 2 reporters; failure rate 0% \(0 of 900 sessions\) is within the 0\.1% maximum\. 0 of 2 reporters authenticated\.\r$/m,
    );

    // Replaying the decision as of 20 days ago: only the k = 20..34 window, which holds one failing report.
    const past = await cli('readiness', '--as-of', d(19), '--format', 'json');
    assert.deepEqual(
      JSON.parse(past.stdout).map((x: Record<string, unknown>) => [x.policy_domain, x.failed_sessions, x.ready]),
      [
        ['ready.example', 5000, false],
        ['tiebreak.example', 0, false],
      ],
    );
  });

  it('readiness reports a named domain without reports as not ready', async () => {
    const r = await cli('readiness', '--domain', 'silent.example', '--format', 'json');
    assert.equal(r.code, 1);
    assert.deepEqual(JSON.parse(r.stdout), [
      {
        policy_domain: 'silent.example',
        policy_mode: null,
        ready: false,
        days_with_reports: 0,
        reporters: 0,
        successful_sessions: 0,
        failed_sessions: 0,
        failure_rate: null,
        top_result_type: null,
        reason:
          "No reports in the last 14 days: check the domain's TLS-RPT record (_smtp._tls.silent.example) and that reports reach this service.",
      },
    ]);
  });

  it('readiness exits 2 on a usage or configuration error, never 1', async () => {
    const badDays = await cli('readiness', '--days', '0');
    assert.equal(badDays.code, 2);
    assert.match(
      badDays.stderr,
      /^tlsrpt: option '--days <n>' argument '0' is invalid\. 0 is out of range: use 1 to 3660 \(run "tlsrpt readiness --help" for usage\)\n$/,
    );
    const tooManyDays = await cli('readiness', '--days', '5', '--min-days', '6');
    assert.equal(tooManyDays.code, 2);
    assert.match(tooManyDays.stderr, /--min-days 6 is more than --days 5/);
    const unknown = await cli('readiness', '--frobnicate');
    assert.equal(unknown.code, 2);
    const badDb = await runCli(['readiness'], { ...env, DATABASE_URL: 'mysql://nowhere/x' });
    assert.equal(badDb.code, 2);
    assert.match(badDb.stderr, /DATABASE_URL/);
  });
});
