/**
 * Alerts end to end, on real services: report mails over SMTP -> Postgres -> report worker -> alert window
 * -> alert queue -> a real HTTP server (webhook and Slack-compatible) and a real SMTP server (e-mail).
 * Expected numbers are read off the reports by hand (see the comments).
 */
import type { FailedSessionsAlert, ReporterSummary, ResultTypeSummary } from '../../src/alert/decide/alertContent.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { enqueueRawMessages, jobIdFor, createProducerConnection, createReportQueue } from '../../src/queue/reportQueue.js';
import { createAlertQueue, enqueueWindowEvaluations, windowJobId } from '../../src/queue/alertQueue.js';
import { realFixture } from '../helpers/fixtures.js';
import { startAlertHarness, type AlertHarness } from '../helpers/alertHarness.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtpSink.js';
import { waitFor } from '../helpers/waitFor.js';
import { freePort, startWebhookSink, type WebhookSink } from '../helpers/webhookSink.js';
import { ageStoredReports } from '../helpers/ageStoredReports.js';

// Google's real report: example.com, MTA-STS "mode: enforce", 4523 successful and 2 failed sessions,
// both certificate-expired on mail.example.com from 192.0.2.1.
const ENFORCE_FAILURE = realFixture('tlsrpt-digest--tlsrpt_failure.eml');

interface Detail {
  type: string;
  n: number;
  mx?: string;
  ip?: string;
}

function crafted(
  org: string,
  reportId: string,
  day: string,
  ok: number,
  failed: number,
  details: Detail[],
  domain = 'grouped.example',
): Buffer {
  const report = {
    'organization-name': org,
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': `tlsrpt@${org.toLowerCase().replace(/\W/g, '')}.example`,
    'report-id': reportId,
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: testing', `mx: *.${domain}`, 'max_age: 86400'],
          'policy-domain': domain,
          'mx-host': [`*.${domain}`],
        },
        summary: { 'total-successful-session-count': ok, 'total-failure-session-count': failed },
        'failure-details': details.map((d) => ({
          'result-type': d.type,
          'sending-mta-ip': '198.51.100.1',
          'receiving-mx-hostname': d.mx ?? `mx1.${domain}`,
          'receiving-ip': d.ip ?? '192.0.2.10',
          'failed-session-count': d.n,
        })),
      },
    ],
  };
  return buildReportMail({ report, policyDomain: domain, submitter: org.toLowerCase().replace(/\W/g, '') + '.example', reportId });
}

async function alertsFor(h: AlertHarness, domain: string) {
  return (await h.db.pool.query(`SELECT * FROM alerts WHERE policy_domain = $1 ORDER BY id`, [domain])).rows;
}

describe('alerts to a webhook, a Slack-compatible webhook and e-mail', () => {
  let h: AlertHarness;
  let web: WebhookSink;
  let mail: SmtpSink;
  const hooks = (path: string, domain: string) =>
    web.requests.filter(
      (r) =>
        r.path === path &&
        (path === '/slack'
          ? String((r.body as { text: string }).text).includes(domain)
          : (r.body as { policyDomain: string }).policyDomain === domain),
    );

  before(async () => {
    web = await startWebhookSink();
    mail = await startSmtpSink();
    h = await startAlertHarness({
      ALERT_WEBHOOK_URLS: web.url('/hook'),
      ALERT_SLACK_WEBHOOK_URLS: web.url('/slack'),
      ALERT_EMAIL_SMTP_URL: `smtp://127.0.0.1:${mail.port}`,
      ALERT_EMAIL_FROM: 'tlsrpt@alerts.test',
      ALERT_EMAIL_TO: 'ops@example.net',
      ALERT_GROUP_WAIT_SECONDS: '3',
      ALERT_RETRY_DELAY_SECONDS: '0.2',
      ALERT_QUIET_REPORTER_DAYS: '2',
    });
  });
  after(async () => {
    await h?.close();
    await web?.close();
    await mail?.close();
  });

  it('sends one critical alert for failures under an enforced policy, to every destination, and records it', async () => {
    const sent = await h.deliver(ENFORCE_FAILURE);
    assert.equal(sent.status, 'stored');
    const [alert] = await waitFor('the alert to be delivered everywhere', async () => {
      const rows = await alertsFor(h, 'example.com');
      return rows.length && rows[0].status === 'delivered' ? rows : null;
    });
    assert.equal(alert.kind, 'failed-sessions');
    assert.equal(alert.severity, 'critical');
    assert.equal(alert.subject, '[tlsrpt] CRITICAL example.com: 2 failed TLS sessions (certificate-expired)');

    const [hook] = hooks('/hook', 'example.com');
    assert.equal(hooks('/hook', 'example.com').length, 1);
    const body = hook!.body as {
      id: number;
      kind: string;
      severity: string;
      policyDomain: string;
      subject: string;
      content: FailedSessionsAlert;
    };
    assert.equal(hook!.headers['content-type'], 'application/json');
    assert.equal(hook!.headers['x-tlsrpt-alert-id'], String(alert.id));
    assert.equal(body.id, alert.id);
    assert.equal(body.kind, 'failed-sessions');
    assert.equal(body.severity, 'critical');
    assert.equal(body.policyDomain, 'example.com');
    assert.equal(body.subject, alert.subject);
    assert.deepEqual(body.content.sessions, { successful: 4523, failed: 2, failurePercent: 0.04 }); // 2 / 4525
    assert.deepEqual(body.content.dateRange, { start: '2026-02-08T00:00:00.000Z', end: '2026-02-08T23:59:59.000Z' });
    assert.deepEqual(body.content.modes, [{ mode: 'enforce', policyType: 'sts', organizations: ['Google Inc.'] }]);
    assert.deepEqual(body.content.reporters, [
      {
        organizationName: 'Google Inc.',
        contactInfo: 'smtp-tls-reporting@google.com',
        reports: 1,
        successfulSessions: 4523,
        failedSessions: 2,
      },
    ]);
    const t = body.content.resultTypes[0]!;
    assert.equal(t.resultType, 'certificate-expired');
    assert.equal(t.failedSessions, 2);
    assert.deepEqual(t.receivingMxHostnames, [{ value: 'mail.example.com', sessions: 2 }]);
    assert.deepEqual(t.sendingMtaIps, [{ value: '192.0.2.1', sessions: 2 }]);
    assert.match(t.fix, /^Renew the certificate on that MX/);

    const [slack] = hooks('/slack', 'example.com');
    assert.equal(hooks('/slack', 'example.com').length, 1);
    assert.deepEqual(Object.keys(slack!.body as object), ['text']);
    const text = (slack!.body as { text: string }).text;
    assert.equal(text.split('\n')[0], '<!here> :rotating_light: *CRITICAL: failed TLS sessions for example.com*');
    assert.match(text, /• `certificate-expired`: 2 sessions \(critical, new\); MX mail\.example\.com \(2\)/);

    const m = await waitFor('the e-mail', async () => mail.messages.find((x) => x.parsed.subject === alert.subject));
    assert.equal(mail.messages.filter((x) => x.parsed.subject === alert.subject).length, 1);
    assert.equal(m.envelopeFrom, 'tlsrpt@alerts.test');
    assert.deepEqual(m.envelopeTo, ['ops@example.net']);
    const header = (name: string) => m.parsed.headers.get(name);
    assert.equal(m.parsed.from?.text, 'tlsrpt@alerts.test');
    assert.equal(m.parsed.messageId, `<tlsrpt-alert-${alert.id}@alerts.test>`);
    assert.equal(header('auto-submitted'), 'auto-generated');
    assert.equal(header('x-tlsrpt-severity'), 'critical');
    assert.equal(header('x-tlsrpt-policy-domain'), 'example.com');
    assert.match(m.raw, /^Importance: High\r$/m); // the louder class, as mail clients show it
    assert.match(m.raw, /^X-Priority: 1 \(Highest\)\r$/m);
    assert.equal(m.parsed.text?.trim(), alert.body_text);
    assert.match(alert.body_text, /^Policy mode: {2}enforce \(MTA-STS\), as reported by Google Inc\.$/m);
    assert.match(alert.body_text, /^Reported by: {2}Google Inc\. <smtp-tls-reporting@google\.com>: 1 report, 2 failed, 4523 successful$/m);
    assert.match(alert.body_text, /^ {3}How to fix: {4}Renew the certificate on that MX/m);

    const deliveries = (
      await h.db.pool.query(
        `SELECT destination_kind, status, attempts FROM alert_deliveries WHERE alert_id = $1 ORDER BY destination_kind`,
        [alert.id],
      )
    ).rows;
    assert.deepEqual(deliveries, [
      { destination_kind: 'email', status: 'delivered', attempts: 1 },
      { destination_kind: 'slack', status: 'delivered', attempts: 1 },
      { destination_kind: 'webhook', status: 'delivered', attempts: 1 },
    ]);
    const attempts = (
      await h.db.pool.query(
        `SELECT d.destination_kind, a.ok, a.response FROM alert_delivery_attempts a JOIN alert_deliveries d ON d.id = a.delivery_id
       WHERE d.alert_id = $1 ORDER BY d.destination_kind`,
        [alert.id],
      )
    ).rows;
    assert.deepEqual(
      attempts.map((a) => [a.destination_kind, a.ok]),
      [
        ['email', true],
        ['slack', true],
        ['webhook', true],
      ],
    );
    assert.match(attempts[0].response, /^250 OK stored by the test sink/);
    assert.equal(attempts[2].response, 'HTTP 200');
  });

  it('never alerts twice for a report delivered again or re-processed', async () => {
    const again = await h.deliver(ENFORCE_FAILURE);
    assert.equal(again.status, 'duplicate');

    // Re-process the message that stored the report, as `tlsrpt reprocess` does: its outcome is `stored` again.
    const first = (
      await h.db.pool.query(`SELECT r.raw_message_id AS id FROM reports r WHERE r.report_id = '2026-02-08T00:00:00Z_example.com'`)
    ).rows[0].id;
    const redis = createProducerConnection(h.config.redisUrl);
    const queue = createReportQueue(redis, h.config.queuePrefix);
    try {
      await (await queue.getJob(jobIdFor(first)))?.remove();
      await h.db.pool.query(`UPDATE raw_messages SET status = 'pending', report_id = NULL WHERE id = $1`, [first]);
      await enqueueRawMessages(queue, [first]);
      await h.jobDone(first);
    } finally {
      await queue.close();
      redis.disconnect();
    }
    assert.equal((await h.db.pool.query(`SELECT status FROM raw_messages WHERE id = $1`, [first])).rows[0].status, 'stored');

    await h.alerts.checkOnce();
    const open = await h.db.pool.query(`SELECT count(*)::int AS n FROM alert_windows WHERE policy_domain = 'example.com'`);
    assert.equal(open.rows[0].n, 1, 'no second window was opened');
    assert.equal((await alertsFor(h, 'example.com')).length, 1);
    assert.equal(hooks('/hook', 'example.com').length, 1);
  });

  it('groups reporters and result types per domain, then holds repeats back until the count doubles', async () => {
    // One window: Google 990 ok / 10 failed (certificate-expired 6 on mx1, starttls-not-supported 4 on mx2),
    // Microsoft 495 ok / 0 failed, Yahoo 0 ok / 5 failed (certificate-expired 5 on mx1)
    // -> 1485 ok, 15 failed, 15 / 1500 = 1 %; certificate-expired 11, starttls-not-supported 4.
    for (const r of [
      crafted('Google Inc.', 'g-1', '2026-03-01', 990, 10, [
        { type: 'certificate-expired', n: 6 },
        { type: 'starttls-not-supported', n: 4, mx: 'mx2.grouped.example', ip: '192.0.2.20' },
      ]),
      crafted('Microsoft Corporation', 'm-1', '2026-03-01', 495, 0, []),
      crafted('Yahoo', 'y-1', '2026-03-01', 0, 5, [{ type: 'certificate-expired', n: 5 }]),
    ]) {
      assert.equal((await h.deliver(r)).status, 'stored');
    }
    const [grouped] = await waitFor('the grouped alert', async () => {
      const rows = await alertsFor(h, 'grouped.example');
      return rows.length && rows[0].status === 'delivered' ? rows : null;
    });
    assert.equal(grouped.severity, 'warning');
    assert.equal(grouped.subject, '[tlsrpt] Warning grouped.example: 15 failed TLS sessions (certificate-expired, starttls-not-supported)');
    assert.deepEqual(grouped.content.sessions, { successful: 1485, failed: 15, failurePercent: 1 });
    assert.deepEqual(
      grouped.content.reporters.map((r: ReporterSummary) => [r.organizationName, r.failedSessions]),
      [
        ['Google Inc.', 10],
        ['Yahoo', 5],
        ['Microsoft Corporation', 0],
      ],
    );
    assert.deepEqual(
      grouped.content.resultTypes.map((t: ResultTypeSummary) => [t.resultType, t.failedSessions, t.trigger]),
      [
        ['certificate-expired', 11, 'new'],
        ['starttls-not-supported', 4, 'new'],
      ],
    );
    assert.equal(hooks('/hook', 'grouped.example').length, 1);
    assert.equal(mail.messages.filter((x) => x.parsed.subject === grouped.subject).length, 1);

    // Next day, certificate-expired 15 < 2 x 11: evaluated, held back by the cooldown.
    assert.equal(
      (await h.deliver(crafted('Google Inc.', 'g-2', '2026-03-02', 985, 15, [{ type: 'certificate-expired', n: 15 }]))).status,
      'stored',
    );
    const held = await waitFor('the second window to be evaluated', async () => {
      const r = await h.db.pool.query(`SELECT outcome FROM alert_windows WHERE policy_domain = 'grouped.example' ORDER BY id`);
      return r.rows.length === 2 && r.rows[1].outcome ? r.rows[1].outcome : null;
    });
    assert.equal(held, 'cooldown');
    assert.equal((await alertsFor(h, 'grouped.example')).length, 1);

    // Then 22 = 2 x 11: alerted again, as grown.
    assert.equal(
      (await h.deliver(crafted('Google Inc.', 'g-3', '2026-03-03', 978, 22, [{ type: 'certificate-expired', n: 22 }]))).status,
      'stored',
    );
    const rows = await waitFor('the repeat alert', async () => {
      const r = await alertsFor(h, 'grouped.example');
      return r.length === 2 && r[1].status === 'delivered' ? r : null;
    });
    const t = rows[1].content.resultTypes[0];
    assert.deepEqual([t.resultType, t.failedSessions, t.trigger, t.previous.failedSessions], ['certificate-expired', 22, 'grown', 11]);
    assert.match(rows[1].body_text, /certificate-expired: 22 failed sessions \(grown from 11 in the alert of \d{4}-\d\d-\d\d\)/);
    assert.equal(hooks('/hook', 'grouped.example').length, 2);
  });

  it('picks up a failing report that never reached a window (alert hook failed) in the periodic check', async () => {
    const r = await h.deliver(
      crafted('Google Inc.', 'late-1', '2026-03-04', 10, 1, [{ type: 'validation-failure', n: 1 }], 'late.example'),
    );
    assert.equal(r.status, 'stored');
    // Undo what the hook did, and age the report past the check's grace period.
    await h.db.pool.query(`DELETE FROM alert_windows WHERE policy_domain = 'late.example'`);
    await ageStoredReports(h.db.pool, 5, [r.reportId!]);
    const summary = await h.alerts.checkOnce();
    assert.equal(summary.attached, 1);
    const [late] = await waitFor('the alert for the late report', async () => {
      const rows = await alertsFor(h, 'late.example');
      return rows.length && rows[0].status === 'delivered' ? rows : null;
    });
    assert.deepEqual(
      late.content.resultTypes.map((t: ResultTypeSummary) => [t.resultType, t.failedSessions]),
      [['validation-failure', 1]],
    );
    assert.equal((await h.alerts.checkOnce()).attached, 0);
  });

  it('evaluates a window whose job Redis still holds as finished, from a database since made again', async () => {
    // The next window's id, and a job of that name that ran for another window of that id (in a database
    // dropped or restored since, while Redis kept its data): BullMQ keeps it among the completed jobs.
    const seq = `pg_get_serial_sequence('alert_windows', 'id')`;
    const next = (await h.db.pool.query<{ n: number }>(`SELECT nextval(${seq}) AS n`)).rows[0]!.n;
    await h.db.pool.query(`SELECT setval(${seq}, $1, false)`, [next]);
    const redis = createProducerConnection(h.config.redisUrl);
    const queue = createAlertQueue(redis, h.config.queuePrefix);
    try {
      await enqueueWindowEvaluations(queue, [{ windowId: next, closesAt: new Date() }]);
      await waitFor('the earlier job to finish', async () => (await queue.getJobState(windowJobId(next))) === 'completed');

      const r = await h.deliver(
        crafted('Google Inc.', 'stale-1', '2026-03-05', 10, 1, [{ type: 'validation-failure', n: 1 }], 'stale.example'),
      );
      assert.equal(r.status, 'stored');
      const window = await waitFor('the report to join a window', async () => {
        const w = await h.db.pool.query(`SELECT id FROM alert_windows WHERE policy_domain = 'stale.example'`);
        return w.rows[0];
      });
      assert.equal(window.id, next);
      // The hook's job for it was ignored; once the window is overdue, the periodic check queues it again.
      await h.db.pool.query(`UPDATE alert_windows SET closes_at = now() - interval '5 minutes' WHERE id = $1`, [next]);
      await h.alerts.checkOnce();
      const [alert] = await waitFor('the alert for the window', async () => {
        const rows = await alertsFor(h, 'stale.example');
        return rows.length && rows[0].status === 'delivered' ? rows : null;
      });
      assert.equal(alert.content.sessions.failed, 1);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });

  it('warns once about a reporter that sent daily reports and then fell silent', async () => {
    // Google reported quiet.example every day from 2026-03-01 to 2026-03-07, all sessions successful.
    for (let day = 1; day <= 7; day++) {
      const d = `2026-03-0${day}`;
      assert.equal((await h.deliver(crafted('Google Inc.', `q-${day}`, d, 100, 0, [], 'quiet.example'))).status, 'stored');
    }
    // 2 days of silence plus the day of delivery delay: due from 2026-03-10T23:59:59Z.
    assert.equal((await h.alerts.checkOnce(new Date('2026-03-10T23:00:00Z'))).deliveries, 0);
    const found = await h.alerts.checkOnce(new Date('2026-03-11T12:00:00Z'));
    assert.equal(found.deliveries, 3);
    const [quiet] = await waitFor('the quiet-reporter alert', async () => {
      const rows = await alertsFor(h, 'quiet.example');
      return rows.length && rows[0].status === 'delivered' ? rows : null;
    });
    assert.equal(quiet.kind, 'quiet-reporter');
    assert.equal(quiet.subject, '[tlsrpt] Warning quiet.example: Google Inc. has sent no TLS report for 3 days');
    assert.deepEqual(
      [quiet.content.daysReportedInLastWeek, quiet.content.lastReportEnd, quiet.content.contactInfo],
      [7, '2026-03-07T23:59:59.000Z', 'tlsrpt@googleinc.example'],
    );
    assert.equal(hooks('/hook', 'quiet.example').length, 1);
    assert.equal((await h.alerts.checkOnce(new Date('2026-03-12T12:00:00Z'))).deliveries, 0, 'one alert per silence');
    assert.equal((await alertsFor(h, 'quiet.example')).length, 1);
  });
});

describe('a destination that is down', () => {
  let h: AlertHarness;
  let gone: WebhookSink;
  let back: WebhookSink | undefined;
  let downPort: number;

  before(async () => {
    downPort = await freePort();
    gone = await startWebhookSink({ respond: () => 404 });
    h = await startAlertHarness({
      ALERT_WEBHOOK_URLS: `http://127.0.0.1:${downPort}/hook`,
      ALERT_SLACK_WEBHOOK_URLS: gone.url('/services/T0/B0/revoked'),
      ALERT_GROUP_WAIT_SECONDS: '0',
      ALERT_RETRY_DELAY_SECONDS: '0.2',
      ALERT_DELIVERY_ATTEMPTS: '10',
    });
  });
  after(async () => {
    await h?.close();
    await back?.close();
    await gone?.close();
  });

  it('gets the alert once it is back, after retries with backoff; a refusing one is given up at once', async () => {
    await h.deliver(ENFORCE_FAILURE);
    const failures = await waitFor('two failed attempts', async () => {
      const r = await h.db.pool.query(
        `SELECT a.error_code, a.error FROM alert_delivery_attempts a JOIN alert_deliveries d ON d.id = a.delivery_id
         WHERE d.destination_kind = 'webhook' ORDER BY a.id`,
      );
      return r.rows.length >= 2 ? r.rows : null;
    });
    assert.deepEqual(
      failures.map((f) => f.error_code),
      failures.map(() => 'connection-failed'),
    );
    assert.match(failures[0].error, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${downPort}/hook: ECONNREFUSED`));

    back = await startWebhookSink({ port: downPort });
    const webhook = await waitFor('the webhook delivery', async () => {
      const r = await h.db.pool.query(
        `SELECT id, status, attempts, last_error_code FROM alert_deliveries WHERE destination_kind = 'webhook'`,
      );
      return r.rows[0]?.status === 'delivered' ? r.rows[0] : null;
    });
    // Let the delivery job finish, then check nothing else arrives: delivered exactly once.
    const redis = createProducerConnection(h.config.redisUrl);
    const { createAlertQueue } = await import('../../src/queue/alertQueue.js');
    const alertQueue = createAlertQueue(redis, h.config.queuePrefix);
    try {
      await waitFor('the delivery job to complete', async () => (await alertQueue.getJobState(`delivery-${webhook.id}`)) === 'completed');
    } finally {
      await alertQueue.close();
      redis.disconnect();
    }
    assert.equal(back.requests.length, 1);
    assert.equal((back.requests[0]!.body as { policyDomain: string }).policyDomain, 'example.com');
    assert.ok(webhook.attempts >= 3, `attempts: ${webhook.attempts}`);
    assert.equal(webhook.last_error_code, 'connection-failed'); // kept: why it took several attempts
    const attempts = (
      await h.db.pool.query(`SELECT ok, response FROM alert_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt`, [webhook.id])
    ).rows;
    assert.equal(attempts.length, webhook.attempts);
    assert.deepEqual(
      attempts.map((a) => a.ok),
      [...Array(webhook.attempts - 1).fill(false), true],
    );
    assert.equal(attempts.at(-1).response, 'HTTP 200');

    // The Slack URL answers 404 (a revoked webhook): not retried.
    const slack = (
      await h.db.pool.query(`SELECT status, attempts, last_error_code, last_error FROM alert_deliveries WHERE destination_kind = 'slack'`)
    ).rows[0];
    assert.deepEqual([slack.status, slack.attempts, slack.last_error_code], ['failed', 1, 'http-status']);
    assert.match(slack.last_error, /^http:\/\/127\.0\.0\.1:\d+\/services\/\*\*\* answered HTTP 404/);
    assert.ok(!slack.last_error.includes('revoked'), 'the secret part of the URL is not recorded');
    const alert = (await h.db.pool.query(`SELECT status, last_error FROM alerts`)).rows[0];
    assert.equal(alert.status, 'partly-delivered');
  });
});
