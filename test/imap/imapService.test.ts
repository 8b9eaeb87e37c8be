/**
 * The long-running IMAP reader (`tlsrpt imap`, and inside `serve`) against a real Dovecot: new mail arrives
 * through IDLE without waiting for the poll, a server without IDLE is polled, a restarted server is
 * reconnected to, a wrong password backs off instead of looping, and a first sync of 10,000 messages is
 * committed in batches with nothing lost or doubled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startImapService, type ImapService } from '../../src/imap/imapService.js';
import type { PullSummary } from '../../src/imap/pullMailbox.js';
import { createLogger } from '../../src/log/createLogger.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { clearQueuePrefix, testConfig } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';

const report = (id: string) =>
  buildReportMail({
    report: {
      'organization-name': 'Sender Inc.',
      'date-range': { 'start-datetime': '2023-11-12T00:00:00Z', 'end-datetime': '2023-11-12T23:59:59Z' },
      'contact-info': 'tls@sender.example',
      'report-id': id,
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-domain': 'example.com' },
          summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
        },
      ],
    },
    reportId: `${id}@sender.example`,
  });

const FAST = { backoffMs: 100, maxBackoffMs: 500, authBackoffMs: 3000, maxAuthBackoffMs: 6000 };

describe('IMAP reader service', () => {
  let dovecot: Dovecot;
  let noIdle: Dovecot;
  let db: TestDatabase;
  const services: ImapService[] = [];
  const prefixes: string[] = [];
  let n = 0;
  const user = (server: Dovecot) => {
    const name = `svc${++n}`;
    server.addUser(name, 'pw');
    return name;
  };
  const count = async (name: string) =>
    Number(
      (await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM raw_messages WHERE source_mailbox LIKE $1`, [`%//${name}@%`])).rows[0]!
        .n,
    );
  const start = async (server: Dovecot, name: string, env: Record<string, string> = {}, onPass?: (s: PullSummary) => void) => {
    const config = testConfig(db.url, { IMAP_URL: `imap://${name}:pw@127.0.0.1:${server.port}/INBOX`, IMAP_POLL_SECONDS: '300', ...env });
    prefixes.push(config.queuePrefix);
    const service = await startImapService(config, createLogger('silent'), { timing: FAST, onPass });
    services.push(service);
    return service;
  };

  before(async () => {
    // Each assigned as it starts, so that after() stops what did start when another part fails.
    await Promise.all([
      startDovecot().then((d) => (dovecot = d)),
      startDovecot({ idle: false }).then((d) => (noIdle = d)),
      createTestDatabase().then((d) => (db = d)),
    ]);
  });
  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all([dovecot?.stop(), noIdle?.stop(), db?.drop(), ...prefixes.map((p) => clearQueuePrefix(p))]);
  });

  it('IDLE: new mail is stored at once, long before the poll interval; then a restarted server is reconnected to', async () => {
    const name = user(dovecot);
    await dovecot.append(name, 'pw', 'INBOX', [report('idle-1')]);
    const service = await start(dovecot, name);
    await waitFor('the first message', async () => (await count(name)) === 1);
    await dovecot.append(name, 'pw', 'INBOX', [report('idle-2')]);
    await waitFor('the message announced by IDLE', async () => (await count(name)) === 2, 10_000);

    await dovecot.restart();
    await dovecot.append(name, 'pw', 'INBOX', [report('after-restart')]);
    await waitFor('the message after the server restart', async () => (await count(name)) === 3, 20_000);
    await service.stop();
  });

  it('without IDLE the mailbox is polled', async () => {
    const name = user(noIdle);
    const service = await start(noIdle, name, { IMAP_POLL_SECONDS: '1' });
    await noIdle.append(name, 'pw', 'INBOX', [report('poll-1')]);
    await waitFor('the polled message', async () => (await count(name)) === 1, 10_000);
    await service.stop();
  });

  it('a wrong password is retried with backoff, not in a loop', async () => {
    const name = user(dovecot);
    const before = dovecot
      .log()
      .split('\n')
      .filter((l) => l.includes(`user=<${name}>`) && l.includes('auth failed')).length;
    const service = await start(dovecot, `${name}`, { IMAP_URL: `imap://${name}:wrong@127.0.0.1:${dovecot.port}/INBOX` });
    await waitFor('the first refused login', async () =>
      dovecot
        .log()
        .split('\n')
        .some((l) => l.includes(`user=<${name}>`) && l.includes('auth failed')),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const attempts =
      dovecot
        .log()
        .split('\n')
        .filter((l) => l.includes(`user=<${name}>`) && l.includes('auth failed')).length - before;
    assert.equal(attempts, 1, 'one login attempt within the auth backoff');
    await service.stop();
  });

  it('a first sync of 10,000 messages stores each once, in batches', async () => {
    const name = user(dovecot);
    dovecot.deliver(
      name,
      'INBOX',
      Array.from({ length: 10_000 }, (_, i) => report(`sync-${i}`)),
    );
    const passes: PullSummary[] = [];
    const service = await start(dovecot, name, { IMAP_PROCESSED: 'move:Processed' }, (s) => passes.push(s));
    await waitFor('10,000 stored', async () => (await count(name)) === 10_000, 240_000);
    await service.stop();
    const c = await dovecot.connect(name, 'pw');
    const inbox = await c.status('INBOX', { messages: true });
    const processed = await c.status('Processed', { messages: true });
    await c.logout();
    assert.equal(inbox && inbox.messages, 0);
    assert.equal(processed && processed.messages, 10_000);
    assert.equal(
      passes.reduce((a, p) => a + p.stored, 0),
      10_000,
    );
  });
});
