/**
 * formatAlert: the words an administrator reads. The first case is the real Google report of
 * test/fixtures/real/tlsrpt-digest--tlsrpt_failure.eml (MTA-STS enforce, 2 of 4525 sessions failed with
 * certificate-expired on mail.example.com from 192.0.2.1), written out in full.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlertContent, FailedSessionsAlert } from '../../src/alert/decide/alertContent.js';
import { formatAlert } from '../../src/alert/decide/formatAlert.js';
import { alertForReport } from '../helpers/alertForReport.js';

function googleFailure(contactInfo = 'smtp-tls-reporting@google.com'): FailedSessionsAlert {
  return alertForReport({
    organizationName: 'Google Inc.',
    contactInfo,
    policies: [
      {
        policyType: 'sts',
        policyString: ['version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'max_age: 604800'],
        successfulSessions: 4523,
        failedSessions: 2,
        details: [
          {
            resultType: 'certificate-expired',
            sendingMtaIp: '192.0.2.1',
            receivingMxHostname: 'mail.example.com',
            receivingIp: null,
            failedSessions: 2,
            failureReasonCode: null,
            additionalInformation: null,
          },
        ],
      },
    ],
  });
}

describe('formatAlert', () => {
  it('says in plain words what failed, where, for whom, and how to fix it', () => {
    const f = formatAlert(googleFailure());
    assert.equal(f.subject, '[tlsrpt] CRITICAL example.com: 2 failed TLS sessions (certificate-expired)');
    assert.equal(
      f.text,
      [
        'CRITICAL: 2 of 4525 TLS sessions to example.com failed (0.04%)',
        '',
        'Domain:       example.com',
        'Policy mode:  enforce (MTA-STS), as reported by Google Inc.',
        'Reported by:  Google Inc. <smtp-tls-reporting@google.com>: 1 report, 2 failed, 4523 successful',
        'Date range:   2026-02-08 00:00:00 UTC to 2026-02-08 23:59:59 UTC',
        'Sessions:     2 failed, 4523 successful, failure rate 0.04%',
        '',
        'Why this is critical:',
        '- The MTA-STS policy is in enforce mode: senders that honour it do not deliver over a session that fails (RFC 8461 section 5), so this mail was not delivered; it is retried, and bounces if the failure persists.',
        '',
        'Result types (1):',
        '1. certificate-expired: 2 failed sessions (critical, new)',
        '   MX hosts:      mail.example.com (2)',
        '   Receiving IPs: not reported',
        '   Sending IPs:   192.0.2.1 (2)',
        '   What it means: The MX presented an expired certificate.',
        '   How to fix:    Renew the certificate on that MX and make sure the mail server reloads it (automate renewal).',
        '',
        'This alert covers the reports received for example.com between 2026-02-09 07:12:00 UTC and 2026-02-09 07:22:00 UTC.',
      ].join('\n'),
    );
  });

  it('makes the Slack text louder for critical alerts and escapes what reporters wrote', () => {
    const f = formatAlert(googleFailure('<script>&co'));
    const lines = f.slackText.split('\n');
    assert.equal(lines[0], '<!here> :rotating_light: *CRITICAL: failed TLS sessions for example.com*');
    assert.equal(lines[1], '*2* of 4525 sessions failed (0.04%) · 2026-02-08 00:00:00 UTC to 2026-02-08 23:59:59 UTC');
    assert.ok(
      lines.includes(
        '• `certificate-expired`: 2 sessions (critical, new); MX mail.example.com (2); receiving IPs not reported; sending IPs 192.0.2.1 (2)',
      ),
    );
    assert.ok(!f.slackText.includes('<script>'));
    assert.match(
      formatAlert({ ...googleFailure(), severity: 'warning', criticalReasons: [] }).slackText,
      /^:warning: \*Warning: failed TLS sessions for example\.com\*/,
    );
  });

  it('marks a result type in its cooldown with the earlier alert', () => {
    const a = googleFailure();
    const t = { ...a.resultTypes[0]!, trigger: null, previous: { alertedAt: '2026-02-08T07:00:00.000Z', failedSessions: 3 } };
    const f = formatAlert({
      ...a,
      resultTypes: [t, { ...t, resultType: 'starttls-not-supported', trigger: 'new' as const, previous: null }],
    });
    assert.equal(f.subject, '[tlsrpt] CRITICAL example.com: 2 failed TLS sessions (starttls-not-supported)');
    assert.match(f.text, /^1\. certificate-expired: 2 failed sessions \(critical, in cooldown: alerted 2026-02-08 with 3\)$/m);
    assert.match(f.text, /^Result types "in cooldown" were alerted before/m);
  });

  it('explains a quiet reporter and the usual causes', () => {
    const content: AlertContent = {
      kind: 'quiet-reporter',
      severity: 'warning',
      policyDomain: 'example.com',
      organizationName: 'Google Inc.',
      contactInfo: null,
      lastReportEnd: '2026-05-10T23:59:59.000Z',
      daysSilent: 4,
      daysReportedInLastWeek: 7,
    };
    const f = formatAlert(content);
    assert.equal(f.subject, '[tlsrpt] Warning example.com: Google Inc. has sent no TLS report for 4 days');
    assert.equal(
      f.text.split('\n')[0],
      'Warning: Google Inc. sent TLS reports for example.com on 7 of the 7 days up to 2026-05-10 23:59:59 UTC, and none since (4 days).',
    );
    assert.match(f.text, /_smtp\._tls\.example\.com TXT record/);
  });
});
