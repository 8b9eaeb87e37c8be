/**
 * `tlsrpt alerts test|list|explain` as an administrator runs them: the real CLI in a child process, against
 * a test database, a real HTTP server and a real SMTP sink.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { projectPath } from '../../src/util/projectPath.js';
import { RESULT_TYPES } from '../../src/resultTypes.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtpSink.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { startWebhookSink, type WebhookSink } from '../helpers/webhookSink.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tlsrpt(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      {
        cwd: projectPath(),
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', ...env },
        timeout: 60_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('tlsrpt alerts', () => {
  let db: TestDatabase;
  let web: WebhookSink;
  let mail: SmtpSink;
  let env: Record<string, string>;

  before(async () => {
    db = await createTestDatabase();
    web = await startWebhookSink({ respond: (r) => (r.path.startsWith('/services/') ? 404 : 200) });
    mail = await startSmtpSink();
    env = {
      DATABASE_URL: db.url,
      ALERT_WEBHOOK_URLS: web.url('/hook'),
      ALERT_SLACK_WEBHOOK_URLS: web.url('/services/T0/B0/revoked'),
      ALERT_EMAIL_SMTP_URL: `smtp://127.0.0.1:${mail.port}`,
      ALERT_EMAIL_FROM: 'tlsrpt@alerts.test',
      ALERT_EMAIL_TO: 'ops@example.net',
    };
  });
  after(async () => {
    await db?.drop();
    await web?.close();
    await mail?.close();
  });

  it('"test" sends to every destination, prints each answer, and exits 1 when one failed', async () => {
    const run = await tlsrpt(['alerts', 'test', '--domain', 'Example.ORG'], env);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'Sending a test alert to 3 destination(s):');
    assert.match(lines[1]!, new RegExp(`^  ok {6}webhook  http://127\\.0\\.0\\.1:${web.port}/hook +HTTP 200 \\(\\d+ ms\\)$`));
    assert.match(
      lines[2]!,
      new RegExp(
        `^  FAILED  slack {4}http://127\\.0\\.0\\.1:${web.port}/services/\\*\\*\\* +http-status: .* answered HTTP 404: unavailable \\(\\d+ ms\\)$`,
      ),
    );
    assert.match(lines[3]!, /^ {2}ok {6}email {4}smtp:\/\/127\.0\.0\.1:\d+ -> ops@example\.net +250 OK stored by the test sink/);
    assert.equal(lines[4], 'Recorded as alert 1 (see "tlsrpt alerts list").');

    const hook = web.requests.find((r) => r.path === '/hook')!;
    assert.deepEqual((hook.body as Record<string, unknown>).kind, 'test');
    assert.equal((hook.body as Record<string, unknown>).policyDomain, 'example.org');
    assert.equal(mail.messages.length, 1);
    assert.equal(mail.messages[0]!.parsed.subject, '[tlsrpt] Test alert');
    assert.match(
      mail.messages[0]!.parsed.text ?? '',
      /^This is a test alert from tlsrpt, sent by "tlsrpt alerts test" at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\./,
    );
  });

  it('"list" shows the alert and the state of each delivery', async () => {
    const run = await tlsrpt(['alerts', 'list'], env);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^#1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}warning {2}example\.org {2}test {2}partly-delivered$/);
    assert.equal(lines[1], '     [tlsrpt] Test alert');
    assert.equal(lines[2], `     webhook  http://127.0.0.1:${web.port}/hook  delivered, 1 attempt`);
    assert.match(
      lines[3]!,
      new RegExp(`^ {5}slack {4}http://127\\.0\\.0\\.1:${web.port}/services/\\*\\*\\*  failed, 1 attempt  http-status: .*HTTP 404`),
    );
    assert.match(lines[4]!, /^ {5}email {4}smtp:\/\/127\.0\.0\.1:\d+ -> ops@example\.net {2}delivered, 1 attempt$/);

    const json = JSON.parse((await tlsrpt(['alerts', 'list', '--json', '--kind', 'test'], env)).stdout);
    assert.equal(json.length, 1);
    assert.deepEqual(
      json[0].deliveries.map((d: { status: string }) => d.status),
      ['delivered', 'failed', 'delivered'],
    );
    assert.equal((await tlsrpt(['alerts', 'list', '--domain', 'other.example'], env)).stdout, 'No alerts recorded.\n');
  });

  it('"test" exits 0 when every destination took the alert, and 1 with advice when none is configured', async () => {
    const ok = await tlsrpt(['alerts', 'test'], { ...env, ALERT_SLACK_WEBHOOK_URLS: '' });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const none = await tlsrpt(['alerts', 'test'], { DATABASE_URL: db.url });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^No alert destinations are configured: set ALERT_WEBHOOK_URLS/);
  });

  it('"explain" prints the explanation of every registered result type, from the one table', async () => {
    const run = await tlsrpt(['alerts', 'explain'], {});
    assert.equal(run.code, 0);
    for (const [type, info] of Object.entries(RESULT_TYPES)) {
      assert.ok(run.stdout.includes(`${type} (${info.group})\n  What it means: ${info.meaning}\n  How to fix:    ${info.fix}\n`), type);
    }
  });

  it('names the variable when the alert configuration is wrong', async () => {
    const run = await tlsrpt(['alerts', 'test'], { ALERT_EMAIL_TO: 'ops@example.net' });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^tlsrpt: configuration error: ALERT_EMAIL_SMTP_URL: /);
  });
});
