/**
 * `tlsrpt imap` as a real process: two mailboxes listed in the configuration file, both read; SIGHUP with a
 * changed IMAP_PROCESSED restarts the readers with it; SIGTERM stops cleanly (exit 0). And `tlsrpt serve`
 * with IMAP_URL: a report mail in the mailbox ends as a report in SQL, with no DNS or MX involved.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { REDIS_URL } from '../helpers/services.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';
import { startTlsrpt } from '../workers/tlsrptProcess.js';

const mail = (id: string) => buildReportMail({ report: { 'report-id': id }, reportId: `${id}@sender.example` });

describe('tlsrpt imap (process)', () => {
  let dovecot: Dovecot;
  let db: TestDatabase;
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-imap-proc-'));
  const prefix = `test-imap-proc-${process.pid}`;

  before(async () => {
    // Each assigned as it starts, so that after() stops what did start when the other fails.
    await Promise.all([startDovecot().then((d) => (dovecot = d)), createTestDatabase().then((d) => (db = d))]);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await Promise.all([dovecot?.stop(), db?.drop(), clearQueuePrefix(prefix)]);
  });

  it('reads every mailbox of the file, applies a new IMAP_PROCESSED on SIGHUP, stops on SIGTERM', async () => {
    dovecot.addUser('alpha', 'pa');
    dovecot.addUser('beta', 'pb');
    dovecot.deliver('alpha', 'INBOX', [mail('a1')]);
    dovecot.deliver('beta', 'INBOX', [mail('b1')]);
    const configFile = join(dir, 'config.yaml');
    const writeConfig = (processed: string) =>
      writeFileSync(
        configFile,
        [
          'IMAP_URL:',
          `  - imap://alpha:pa@127.0.0.1:${dovecot.port}/INBOX`,
          `  - imap://beta:pb@127.0.0.1:${dovecot.port}/INBOX`,
          `IMAP_PROCESSED: ${processed}`,
          'IMAP_POLL_SECONDS: 300',
          '',
        ].join('\n'),
      );
    writeConfig('seen');
    const proc = startTlsrpt(['imap', '--config', configFile], {
      DATABASE_URL: db.url,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      SHUTDOWN_TIMEOUT_SECONDS: '5',
    });
    try {
      const count = async () =>
        Number((await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM raw_messages WHERE channel = 'imap'`)).rows[0]!.n);
      await waitFor('both mailboxes read', async () => (await count()) === 2, 30_000);
      assert.ok(!proc.rawLines.some((l) => l.includes(':pa@') || l.includes(':pb@')), 'passwords never logged');

      writeConfig('move:Done');
      const from = proc.lines.length;
      proc.child.kill('SIGHUP');
      await proc.waitForLog('IMAP readers restarted with the new settings', from);
      dovecot.deliver('alpha', 'INBOX', [mail('a2')]);
      const c = await dovecot.connect('alpha', 'pa');
      try {
        // The restarted reader looks at the whole folder once: the message stored before the reload is moved
        // under the new rule too (without being stored again), and the new one is stored and moved.
        await waitFor('both messages moved to Done', async () => {
          const s = await c.status('Done', { messages: true }).catch(() => null);
          return s !== null && s !== false && s.messages === 2;
        });
      } finally {
        await c.logout();
      }
      assert.equal(await count(), 3);

      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0, proc.stderr());
      assert.ok(proc.lines.some((l) => l.msg === 'stopped'));
    } finally {
      await proc.kill();
    }
  });

  it('serve with IMAP_URL: the report in the mailbox becomes a report in SQL', async () => {
    dovecot.addUser('gamma', 'pg');
    const report = {
      'organization-name': 'Google Inc.',
      'date-range': { 'start-datetime': '2023-11-12T00:00:00Z', 'end-datetime': '2023-11-12T23:59:59Z' },
      'contact-info': 'smtp-tls-reporting@google.com',
      'report-id': '2023-11-12T00:00:00Z_example.com',
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-domain': 'example.com' },
          summary: { 'total-successful-session-count': 42, 'total-failure-session-count': 0 },
        },
      ],
    };
    dovecot.deliver('gamma', 'INBOX', [buildReportMail({ report, reportId: 'serve-imap@google.com' })]);
    const proc = startTlsrpt(['serve'], {
      DATABASE_URL: db.url,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      IMAP_URL: `imap://gamma:pg@127.0.0.1:${dovecot.port}/INBOX`,
      IMAP_PROCESSED: 'move:TLS-RPT/Processed',
      SHUTDOWN_TIMEOUT_SECONDS: '5',
    });
    try {
      const row = await waitFor(
        'the report in SQL',
        async () =>
          (
            await db.pool.query<{ organization_name: string; successful: number }>(
              `SELECT r.organization_name, p.total_successful_session_count AS successful
               FROM reports r JOIN policies p ON p.report_id = r.id WHERE r.report_id = $1`,
              ['2023-11-12T00:00:00Z_example.com'],
            )
          ).rows[0],
        60_000,
      );
      assert.deepEqual({ ...row }, { organization_name: 'Google Inc.', successful: 42 });
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0, proc.stderr());
    } finally {
      await proc.kill();
    }
  });
});
