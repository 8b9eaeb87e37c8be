/**
 * `tlsrpt ingest` killed mid-run, against a real database: what it committed stays (pending), a second run
 * settles those messages itself and stores every report once, and a third adds nothing; the daily totals
 * count each report once throughout.
 *
 * The kill lands at a known point without timing: the test holds a lock that the report statement needs
 * (report_identities), so the command commits its first batches of raw mail and then waits on the lock; it
 * is killed while PostgreSQL shows it waiting, and its connections are ended with it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectPath } from '../../src/util/projectPath.js';
import { writeMboxrd } from '../helpers/mbox.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { runCli } from '../helpers/runCli.js';
import { REDIS_URL } from '../helpers/services.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';

const MESSAGES = 600;

function reportMail(i: number): Buffer {
  const id = `crash-${i}`;
  const report = {
    'organization-name': 'Crash Reporter',
    'date-range': { 'start-datetime': '2025-04-01T00:00:00Z', 'end-datetime': '2025-04-01T23:59:59Z' },
    'contact-info': 'tlsrpt@crash.example',
    'report-id': id,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing'], 'policy-domain': 'crash.example' },
        summary: { 'total-successful-session-count': 3, 'total-failure-session-count': 1 },
        'failure-details': [{ 'result-type': 'certificate-expired', 'failed-session-count': 1 }],
      },
    ],
  };
  return buildReportMail({ report, policyDomain: 'crash.example', submitter: 'reports.crash.example', reportId: id });
}

describe('tlsrpt ingest killed mid-run, then run again', () => {
  let db: TestDatabase;
  let dir: string;
  let mbox: string;
  let env: Record<string, string>;

  before(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: `test-ingest-crash-${process.pid}`, LOG_LEVEL: 'warn' };
    dir = mkdtempSync(join(tmpdir(), 'tlsrpt-ingest-crash-'));
    mbox = join(dir, 'reports.mbox');
    // And the first mail again at the end, in a later batch than its first copy.
    const mails = Array.from({ length: MESSAGES }, (_, i) => reportMail(i));
    writeFileSync(mbox, writeMboxrd([...mails, mails[0]!]));
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  const totals = async () =>
    (
      await db.pool.query<{ reports: number; sessions: number; failed: number }>(
        `SELECT coalesce(sum(reports), 0)::int AS reports, coalesce(sum(successful_sessions + failed_sessions), 0)::int AS sessions,
                coalesce(sum(failed_sessions), 0)::int AS failed
         FROM daily_session_totals WHERE policy_domain = 'crash.example'`,
      )
    ).rows[0]!;
  const statuses = async () =>
    Object.fromEntries(
      (await db.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM raw_messages GROUP BY 1`)).rows.map(
        (r) => [r.status, r.n],
      ),
    );

  it('leaves what it committed pending when killed; a second run settles it and counts every report once', async () => {
    const holder = await db.pool.connect();
    let child: ChildProcess | null = null;
    try {
      await holder.query('BEGIN');
      // INSERT needs ROW EXCLUSIVE, which this mode conflicts with: the report statement waits here.
      await holder.query('LOCK TABLE report_identities IN SHARE ROW EXCLUSIVE MODE');
      child = spawn(process.execPath, ['--import', 'tsx', projectPath('src', 'cli', 'main.ts'), 'ingest', mbox], {
        cwd: projectPath(),
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      await waitFor(
        'the ingest process to commit raw mail and wait for the report statement',
        async () =>
          (
            await db.pool.query(
              `SELECT 1 FROM pg_stat_activity
               WHERE datname = current_database() AND application_name = 'tlsrpt-ingest' AND wait_event_type = 'Lock' AND query LIKE '%report_identities%'`,
            )
          ).rowCount === 1,
        60_000,
      );
      child.kill('SIGKILL');
      await exited;
      // A backend does not notice its client is gone until it next reads from it: the one waiting would
      // run its statement once the lock is free. Ended here, so that what the killed run stored is known
      // (nothing); a statement that did get through is a case the second run meets as "already ingested".
      await db.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tlsrpt-ingest'`,
      );
      await waitFor(
        "the killed run's connections to end",
        async () =>
          (await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tlsrpt-ingest'`))
            .rowCount === 0,
      );
    } finally {
      // Also when waiting failed: no process outlives the test.
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await holder.query('ROLLBACK');
      holder.release();
    }

    const left = await statuses();
    assert.ok(left.pending! > 0 && left.pending! < MESSAGES, `some raw mail committed and pending: ${JSON.stringify(left)}`);
    assert.deepEqual(Object.keys(left), ['pending']);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM reports`)).rows[0].n, 0);

    const second = await runCli(['ingest', mbox, '--format', 'json'], env);
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout) as {
      stored: number;
      duplicate: number;
      pending: number;
      results: Array<{ outcome: string; rawMessageId: number }>;
    };
    // The messages the killed run committed are settled by this one, not counted as already ingested; the
    // first mail's second copy is, once, with the first copy's row.
    assert.deepEqual(
      { stored: summary.stored, duplicate: summary.duplicate, pending: summary.pending },
      { stored: MESSAGES, duplicate: 1, pending: 0 },
    );
    assert.equal(summary.results[0]!.outcome, 'stored');
    assert.deepEqual(summary.results[MESSAGES], {
      ...summary.results[MESSAGES],
      outcome: 'already-ingested',
      rawMessageId: summary.results[0]!.rawMessageId,
    });
    assert.deepEqual(await statuses(), { stored: MESSAGES });
    assert.equal((await db.pool.query(`SELECT count(DISTINCT sha256)::int AS n FROM raw_messages`)).rows[0].n, MESSAGES);
    assert.deepEqual(await totals(), { reports: MESSAGES, sessions: 4 * MESSAGES, failed: MESSAGES });
  });

  it('adds nothing on a third run', async () => {
    const third = await runCli(['ingest', mbox], env);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, new RegExp(`duplicate\\s+${MESSAGES + 1}\\s+\\(${MESSAGES + 1} received before byte for byte`));
    assert.deepEqual(await statuses(), { stored: MESSAGES });
    assert.deepEqual(await totals(), { reports: MESSAGES, sessions: 4 * MESSAGES, failed: MESSAGES });
  });
});
