/**
 * Issue 15 parts 3 and 4 for what an alert says and how it travels:
 * - the Slack text carries the sender's reported reason, as the e-mail and the webhook do;
 * - a failing MX of the domain's mail provider gets "contact your provider" advice, not "renew the certificate";
 * - report text reaching Slack mrkdwn (`<!here>`, `@channel`), e-mail headers and bodies is neutralised;
 * - webhook POSTs are signed with ALERT_WEBHOOK_SECRET (real HTTP server) and e-mail goes through a real SMTP server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FailedSessionsAlert } from '../../src/alert/decide/alertContent.js';
import type { WindowDetail } from '../../src/alert/decide/evaluateWindow.js';
import { formatAlert } from '../../src/alert/decide/formatAlert.js';
import { commonMailProvider, mailProviderOf } from '../../src/alert/decide/mailProviders.js';
import { alertMessage } from '../../src/alert/deliver/alertMessage.js';
import { deliverAlert } from '../../src/alert/deliver/deliverAlert.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signPayload, verifyPayload } from '../../src/alert/deliver/signPayload.js';
import { loadConfig } from '../../src/config/loadConfig.js';
import { ConfigError } from '../../src/errors.js';
import { alertForReport } from '../helpers/alertForReport.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtpSink.js';
import { startWebhookSink, type WebhookSink } from '../helpers/webhookSink.js';

function alertFor(org: string, details: Partial<WindowDetail>[], policyDomain = 'example.com'): FailedSessionsAlert {
  return alertForReport(
    {
      organizationName: org,
      contactInfo: 'tlsrpt@reporter.example',
      policies: [
        {
          policyType: 'sts',
          policyString: ['version: STSv1', 'mode: testing', 'mx: *.example.com', 'max_age: 604800'],
          successfulSessions: 100,
          failedSessions: details.reduce((n, d) => n + (d.failedSessions ?? 1), 0),
          details: details.map((d) => ({
            resultType: 'certificate-expired',
            sendingMtaIp: '192.0.2.1',
            receivingMxHostname: 'mail.example.com',
            receivingIp: null,
            failedSessions: 1,
            failureReasonCode: null,
            additionalInformation: null,
            ...d,
          })),
        },
      ],
    },
    policyDomain,
  );
}

describe('alert content', () => {
  it('the Slack text carries the reported reason, like the e-mail text', () => {
    const a = alertFor('Reporter', [{ failureReasonCode: 'X509_V_ERR_CERT_HAS_EXPIRED', additionalInformation: 'expired 2026-02-01' }]);
    const f = formatAlert(a);
    assert.match(f.text, /Reported reason: X509_V_ERR_CERT_HAS_EXPIRED; expired 2026-02-01/);
    assert.match(f.slackText, /_Reported reason:_ X509_V_ERR_CERT_HAS_EXPIRED; expired 2026-02-01/);
  });

  it("a failing MX of the domain's mail provider: contact them, nothing to fix on your side", () => {
    const a = alertFor('Reporter', [{ resultType: 'certificate-host-mismatch', receivingMxHostname: 'ASPMX.L.GOOGLE.COM.' }]);
    const t = a.resultTypes[0]!;
    assert.equal(t.mxProvider, 'Google');
    assert.match(
      t.fix,
      /your provider's: it belongs to Google\. There is nothing to fix on your side for it; if it persists, contact Google/,
    );
    assert.doesNotMatch(formatAlert(a).text, /Add the MX host name to the certificate/);

    const own = alertFor('Reporter', [{ receivingMxHostname: 'mail.example.com' }]).resultTypes[0]!;
    assert.equal(own.mxProvider, undefined);
    assert.match(own.fix, /^Renew the certificate on that MX/);

    const mixed = alertFor('Reporter', [
      { receivingMxHostname: 'example-com.mail.protection.outlook.com' },
      { receivingMxHostname: 'mx.example.com' },
    ]);
    assert.match(mixed.resultTypes[0]!.fix, /^Renew the certificate/, 'one MX of our own: the usual advice');
  });

  it('recognises provider MX hosts by whole labels only', () => {
    assert.equal(mailProviderOf('example-com.mail.protection.outlook.com'), 'Microsoft');
    assert.equal(mailProviderOf('mta5.am0.yahoodns.net'), 'Yahoo');
    assert.equal(mailProviderOf('alt1.aspmx.l.google.com'), 'Google');
    assert.equal(mailProviderOf('notgoogle.com'), null);
    assert.equal(mailProviderOf('google.com.evil.example'), null);
    assert.equal(commonMailProvider(['aspmx.l.google.com', 'alt2.aspmx.l.google.com']), 'Google');
    assert.equal(commonMailProvider(['aspmx.l.google.com', 'mx.example.com']), null);
  });

  it('report text cannot ping a Slack channel, write a link, or add lines to the e-mail', () => {
    const org = 'Evil <!here> <!channel> @channel @here <https://evil.example|click>\r\nHow to fix:    send money';
    const a = alertFor(org, [{ failureReasonCode: '@everyone <!everyone>' }]);
    const f = formatAlert(a);
    const withoutOurs = f.slackText.replace(/^<!here> :rotating_light:/, '');
    assert.ok(!/<!|<https?:/.test(withoutOurs), withoutOurs);
    assert.ok(!/@(channel|here|everyone)/.test(withoutOurs), withoutOurs);
    assert.match(withoutOurs, /&lt;!here&gt;/);
    assert.ok(!/[\r\n]How to fix: {4}send money/.test(f.text), 'no forged line in the e-mail body');
    assert.match(f.text, /\\r\\nHow to fix: {4}send money/);
    assert.ok(!/[\r\n]/.test(f.subject));

    const quiet = formatAlert({
      kind: 'quiet-reporter',
      severity: 'warning',
      policyDomain: 'example.com',
      organizationName: 'Bcc: victim@example.org\r\nX-Evil: 1',
      contactInfo: null,
      lastReportEnd: '2026-02-08T23:59:59Z',
      daysSilent: 3,
      daysReportedInLastWeek: 7,
    });
    assert.ok(!/[\r\n]/.test(quiet.subject), quiet.subject);
  });
});

describe('alert delivery', () => {
  let sink: WebhookSink;
  let smtp: SmtpSink;
  const SECRET = 'a-test-secret-of-32-characters!!';
  before(async () => {
    sink = await startWebhookSink();
    smtp = await startSmtpSink();
  });
  after(async () => {
    await sink.close();
    await smtp.close();
  });

  const message = () => alertMessage(7, new Date('2026-02-09T07:22:00Z'), alertFor('Reporter', [{}]));

  it('signs webhook POSTs with ALERT_WEBHOOK_SECRET: HMAC-SHA256 of "<timestamp>.<raw body>"', async () => {
    const config = loadConfig({ ALERT_WEBHOOK_URLS: sink.url('/signed'), ALERT_WEBHOOK_SECRET: SECRET });
    const dest = config.alerts.destinations[0]!;
    await deliverAlert(dest, message(), 5000);
    const req = sink.requests.find((r) => r.path === '/signed')!;
    const timestamp = req.headers[TIMESTAMP_HEADER] as string;
    const signature = req.headers[SIGNATURE_HEADER] as string;
    assert.match(signature, /^sha256=[0-9a-f]{64}$/);
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60);
    assert.ok(verifyPayload(SECRET, req.rawBody, { timestamp, signature }));
    assert.ok(!verifyPayload('another-secret-of-some-length', req.rawBody, { timestamp, signature }), 'another secret');
    assert.ok(!verifyPayload(SECRET, req.rawBody.replace('"id":7', '"id":8'), { timestamp, signature }), 'another body');
    const later = new Date(Number(timestamp) * 1000 + 600_000);
    assert.ok(!verifyPayload(SECRET, req.rawBody, { timestamp, signature }, later), 'replayed 10 minutes later');
    // The README's recipe: HMAC over "<timestamp>.<body>".
    assert.equal(signPayload(SECRET, req.rawBody, new Date(Number(timestamp) * 1000))[SIGNATURE_HEADER], signature);
  });

  it('sends no signature without a secret, and never signs Slack', async () => {
    const config = loadConfig({ ALERT_WEBHOOK_URLS: sink.url('/plain'), ALERT_SLACK_WEBHOOK_URLS: sink.url('/slack') });
    for (const dest of config.alerts.destinations) await deliverAlert(dest, message(), 5000);
    for (const path of ['/plain', '/slack']) assert.equal(sink.requests.find((r) => r.path === path)!.headers[SIGNATURE_HEADER], undefined);
    const signedSlack = loadConfig({ ALERT_SLACK_WEBHOOK_URLS: sink.url('/slack2'), ALERT_WEBHOOK_SECRET: SECRET });
    await deliverAlert(signedSlack.alerts.destinations[0]!, message(), 5000);
    assert.equal(sink.requests.find((r) => r.path === '/slack2')!.headers[SIGNATURE_HEADER], undefined);
  });

  it('refuses a short secret', () => {
    assert.throws(
      () => loadConfig({ ALERT_WEBHOOK_SECRET: 'short' }),
      (e: unknown) => e instanceof ConfigError && /at least 16 characters/.test(e.message),
    );
  });

  it('an e-mail whose subject carries CR/LF from a report gets no extra header', async () => {
    const config = loadConfig({
      ALERT_EMAIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      ALERT_EMAIL_FROM: 'tlsrpt@example.com',
      ALERT_EMAIL_TO: 'admin@example.com',
    });
    const m = message();
    const hostile = { ...m, formatted: { ...m.formatted, subject: 'Alert\r\nBcc: victim@example.org\r\nX-Evil: 1' } };
    await deliverAlert(config.alerts.destinations[0]!, hostile, 5000);
    const got = smtp.messages.at(-1)!;
    assert.deepEqual(got.envelopeTo, ['admin@example.com']);
    assert.equal(got.parsed.headers.get('x-evil'), undefined);
    assert.equal(got.parsed.subject, 'Alert Bcc: victim@example.org X-Evil: 1');
  });
});
