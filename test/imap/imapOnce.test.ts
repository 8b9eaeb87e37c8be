/**
 * `tlsrpt imap --once` against a real Dovecot on loopback: report mail is committed (channel imap, with its
 * mailbox, UIDVALIDITY and UID) before it is marked or moved; non-report mail stays where it is; a re-read
 * (after a crash between commit and move, or after a UIDVALIDITY change) is recognised as already stored;
 * a wrong password is a clear configuration error (exit status 2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { runCli } from '../helpers/runCli.js';
import { REDIS_URL } from '../helpers/services.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const report = (n: number) =>
  buildReportMail({
    report: {
      'organization-name': 'Sender Inc.',
      'date-range': { 'start-datetime': '2023-11-12T00:00:00Z', 'end-datetime': '2023-11-12T23:59:59Z' },
      'contact-info': 'tls@sender.example',
      'report-id': `imap-once-${n}`,
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-domain': 'example.com' },
          summary: { 'total-successful-session-count': 10, 'total-failure-session-count': 0 },
        },
      ],
    },
    reportId: `imap-once-${n}@sender.example`,
  });
const plainMail = (n: number) =>
  Buffer.from(`From: a@b.example\r\nTo: tls-reports@example.com\r\nSubject: hello ${n}\r\n\r\nnot a report\r\n`);

describe('tlsrpt imap --once', () => {
  let dovecot: Dovecot;
  let db: TestDatabase;
  const prefix = `test-imap-once-${process.pid}`;
  let user = 0;
  const newUser = () => {
    const name = `user${++user}`;
    dovecot.addUser(name, 'secret pass');
    return name;
  };
  const env = (name: string, folder = 'INBOX', extra: Record<string, string> = {}) => ({
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    IMAP_URL: `imap://${name}:secret%20pass@127.0.0.1:${dovecot.port}/${folder}`,
    ...extra,
  });
  const stored = async (name: string) =>
    (
      await db.pool.query<{ channel: string; source_mailbox: string; source_uidvalidity: string; source_uid: string; status: string }>(
        `SELECT channel, source_mailbox, source_uidvalidity, source_uid, status FROM raw_messages
         WHERE source_mailbox LIKE $1 ORDER BY source_uid`,
        [`%//${name}@%`],
      )
    ).rows;
  const folderUids = async (name: string, folder: string, query: Record<string, unknown> = { all: true }) => {
    const c = await dovecot.connect(name, 'secret pass');
    try {
      const lock = await c.getMailboxLock(folder);
      try {
        return ((await c.search(query, { uid: true })) || []).sort((a, b) => a - b);
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
  };

  before(async () => {
    // Each assigned as it starts, so that after() stops what did start when the other fails.
    await Promise.all([startDovecot().then((d) => (dovecot = d)), createTestDatabase().then((d) => (db = d))]);
  });
  after(async () => {
    await Promise.all([dovecot?.stop(), db?.drop(), clearQueuePrefix(prefix)]);
  });

  it('commits report mail with its source, flags it \\Seen, and leaves other mail unread where it is', async () => {
    const name = newUser();
    await dovecot.append(name, 'secret pass', 'INBOX', [report(1), plainMail(1), report(2)]);
    const r = await runCli(['imap', '--once', '--format', 'json'], env(name));
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      { ...row, mailbox: undefined },
      { mailbox: undefined, examined: 3, stored: 2, alreadyStored: 0, nonReport: 1, tooLarge: 0 },
    );
    const rows = await stored(name);
    assert.equal(rows.length, 2);
    assert.deepEqual(
      rows.map((x) => [x.channel, x.source_mailbox, Number(x.source_uid), x.status]),
      [
        ['imap', `imap://${name}@127.0.0.1:${dovecot.port}/INBOX`, 1, 'pending'],
        ['imap', `imap://${name}@127.0.0.1:${dovecot.port}/INBOX`, 3, 'pending'],
      ],
    );
    assert.ok(Number(rows[0]!.source_uidvalidity) > 0);
    assert.deepEqual(await folderUids(name, 'INBOX', { seen: true }), [1, 3]);
    assert.deepEqual(await folderUids(name, 'INBOX', { seen: false }), [2], 'the non-report mail stays unread');

    // A second pass stores nothing again.
    const again = await runCli(['imap', '--once', '--format', 'json'], env(name));
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as Array<{ stored: number; alreadyStored: number }>)[0]!.stored, 0);
    assert.equal((await stored(name)).length, 2);
  });

  it('moves stored reports only after the commit; a re-read after a crash before the move is recognised, not stored twice', async () => {
    const name = newUser();
    await dovecot.append(name, 'secret pass', 'INBOX', [report(10), report(11), plainMail(2)]);
    // The first run commits and only flags: the state a crash between the commit and the move leaves.
    assert.equal((await runCli(['imap', '--once'], env(name))).code, 0);
    assert.equal((await stored(name)).length, 2);
    assert.deepEqual(await folderUids(name, 'INBOX'), [1, 2, 3]);

    const r = await runCli(
      ['imap', '--once', '--format', 'json'],
      env(name, 'INBOX', { IMAP_PROCESSED: 'move:TLS-RPT/Processed', IMAP_NON_REPORT: 'move:Not reports' }),
    );
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as Array<{ stored: number; alreadyStored: number; nonReport: number }>;
    assert.deepEqual([row!.stored, row!.alreadyStored, row!.nonReport], [0, 2, 1]);
    assert.equal((await stored(name)).length, 2, 'nothing stored twice');
    assert.deepEqual(await folderUids(name, 'INBOX'), []);
    assert.equal((await folderUids(name, 'TLS-RPT/Processed')).length, 2);
    assert.equal((await folderUids(name, 'Not reports')).length, 1, 'non-report mail moved, never deleted');
  });

  it('two readers of one mailbox at once store each message once', async () => {
    const name = newUser();
    dovecot.deliver(
      name,
      'INBOX',
      Array.from({ length: 600 }, (_, i) => report(1000 + i)),
    );
    const [a, b] = await Promise.all([runCli(['imap', '--once'], env(name)), runCli(['imap', '--once'], env(name))]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    // Whatever a race left unread, the next pass reads.
    assert.equal((await runCli(['imap', '--once'], env(name))).code, 0);
    const rows = await stored(name);
    assert.equal(rows.length, 600);
    assert.equal(new Set(rows.map((r) => r.source_uid)).size, 600);
  });

  it('a move that fails after the commit leaves the messages in place; the next run moves them without storing again', async () => {
    const name = newUser();
    await dovecot.append(name, 'secret pass', 'INBOX', [report(60), report(61)]);
    // Dovecot refuses to create a folder whose name is longer than a file name may be: the commit succeeds,
    // the move fails, as if the process had died between the two.
    const failed = await runCli(['imap', '--once'], env(name, 'INBOX', { IMAP_PROCESSED: `move:${'x'.repeat(300)}` }));
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal((await stored(name)).length, 2, 'committed before the move was tried');
    assert.deepEqual(await folderUids(name, 'INBOX'), [1, 2], 'nothing left the folder');
    const r = await runCli(['imap', '--once', '--format', 'json'], env(name, 'INBOX', { IMAP_PROCESSED: 'move:Done' }));
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as Array<{ stored: number; alreadyStored: number }>;
    assert.deepEqual([row!.stored, row!.alreadyStored], [0, 2]);
    assert.equal((await stored(name)).length, 2);
    assert.equal((await folderUids(name, 'Done')).length, 2);
  });

  it('delete removes stored reports from the server', async () => {
    const name = newUser();
    await dovecot.append(name, 'secret pass', 'INBOX', [report(20), plainMail(3)]);
    const r = await runCli(['imap', '--once'], env(name, 'INBOX', { IMAP_PROCESSED: 'delete' }));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((await stored(name)).length, 1);
    assert.deepEqual(await folderUids(name, 'INBOX'), [2]);
  });

  it('after a UIDVALIDITY change, the messages already stored are recognised by their bytes', async () => {
    const name = newUser();
    const mails = [report(30), report(31)];
    await dovecot.append(name, 'secret pass', 'Reports', mails);
    assert.equal((await runCli(['imap', '--once'], env(name, 'Reports'))).code, 0);
    const first = await stored(name);
    assert.equal(first.length, 2);

    // Deleting and re-creating the folder gives it a new UIDVALIDITY; the same mail comes back.
    const c = await dovecot.connect(name, 'secret pass');
    await c.mailboxDelete('Reports');
    await c.logout();
    await dovecot.append(name, 'secret pass', 'Reports', [...mails, report(32)]);
    const r = await runCli(['imap', '--once', '--format', 'json'], env(name, 'Reports'));
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as Array<{ stored: number; alreadyStored: number }>;
    assert.deepEqual([row!.stored, row!.alreadyStored], [1, 2]);
    const rows = await stored(name);
    assert.equal(rows.length, 3);
    assert.notEqual(rows.at(-1)!.source_uidvalidity, first[0]!.source_uidvalidity);
  });

  it('a wrong password is a configuration error naming the mailbox, exit status 2, password not shown', async () => {
    const name = newUser();
    const r = await runCli(['imap', '--once'], {
      ...env(name),
      IMAP_URL: `imap://${name}:wrong-password@127.0.0.1:${dovecot.port}/INBOX`,
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the server refused the login/);
    assert.match(r.stderr, new RegExp(`imap://${name}@127\\.0\\.0\\.1`));
    assert.doesNotMatch(r.stderr, /wrong-password/);
  });

  it('tlsrpt quarantine show prints where a message came from', async () => {
    const name = newUser();
    await dovecot.append(name, 'secret pass', 'INBOX', [report(50)]);
    assert.equal((await runCli(['imap', '--once'], env(name))).code, 0);
    const [row] = await db.pool
      .query<{ id: number }>(`SELECT id FROM raw_messages WHERE source_mailbox LIKE $1`, [`%//${name}@%`])
      .then((r) => r.rows);
    const show = await runCli(['quarantine', 'show', String(row!.id), '--format', 'json'], { DATABASE_URL: db.url });
    assert.equal(show.code, 0, show.stderr);
    assert.match(
      (JSON.parse(show.stdout) as { source: string }).source,
      new RegExp(`^imap://${name}@127\\.0\\.0\\.1:\\d+/INBOX uidvalidity=\\d+ uid=1$`),
    );
  });

  it('reads over imaps:// (TLS from the first byte)', async () => {
    const name = newUser();
    await dovecot.append(name, 'secret pass', 'INBOX', [report(40)]);
    const r = await runCli(['imap', '--once'], {
      ...env(name),
      IMAP_URL: `imaps://${name}:secret%20pass@127.0.0.1:${dovecot.tlsPort}/INBOX`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stored(name)).length, 1);
  });
});
