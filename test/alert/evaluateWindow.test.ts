/**
 * evaluateWindow over crafted windows and a crafted sequence of windows. Every expected number is worked
 * out by hand in the comment beside it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainAlertRule } from '../../src/config/alertConfig.js';
import {
  NO_FAILURE_DETAILS,
  evaluateWindow,
  policyMode,
  type CooldownState,
  type WindowDetail,
  type WindowInput,
  type WindowPolicy,
  type WindowReport,
} from '../../src/alert/decide/evaluateWindow.js';
import type { FailedSessionsAlert } from '../../src/alert/decide/alertContent.js';

const RULE: DomainAlertRule = {
  enabled: true,
  warning: { minFailedSessions: 1, minFailurePercent: 0 },
  critical: { minFailedSessions: 1, minFailurePercent: 0 },
  quietReporterDays: 0,
};
const HOUR = 3_600_000;
const T0 = new Date('2026-03-02T06:00:00Z');

function detail(
  resultType: string,
  n: number,
  mx: string | null = null,
  receivingIp: string | null = null,
  sendingIp: string | null = null,
): WindowDetail {
  return {
    resultType,
    failedSessions: n,
    receivingMxHostname: mx,
    receivingIp,
    sendingMtaIp: sendingIp,
    failureReasonCode: null,
    additionalInformation: null,
  };
}

function sts(mode: string, ok: number, failed: number, details: WindowDetail[] = []): WindowPolicy {
  return {
    policyType: 'sts',
    policyString: ['version: STSv1', `mode: ${mode}`, 'mx: *.example.com', 'max_age: 86400'],
    successfulSessions: ok,
    failedSessions: failed,
    details,
  };
}

function report(org: string, policies: WindowPolicy[], day = '2026-03-01'): WindowReport {
  return {
    organizationName: org,
    contactInfo: `tlsrpt@${org.toLowerCase().replace(/\W/g, '')}.example`,
    startAt: new Date(`${day}T00:00:00Z`),
    endAt: new Date(`${day}T23:59:59Z`),
    policies,
  };
}

function input(reports: WindowReport[], over: Partial<WindowInput> = {}): WindowInput {
  return {
    policyDomain: 'example.com',
    openedAt: T0,
    closesAt: new Date(T0.getTime() + 600_000),
    reports,
    history: [],
    rule: RULE,
    cooldownMs: 24 * HOUR,
    growthFactor: 2,
    ...over,
  };
}

function alertOf(i: WindowInput): FailedSessionsAlert {
  const e = evaluateWindow(i);
  assert.equal(e.outcome, 'alert', `expected an alert, got ${e.outcome}`);
  return (e as { alert: FailedSessionsAlert }).alert;
}

// Three reporters for one domain in one window:
//   Google:    990 ok, 10 failed = certificate-expired 6 on mx1 + starttls-not-supported 4 on mx2
//   Microsoft: 495 ok, 0 failed
//   Yahoo:       0 ok, 5 failed = certificate-expired 5 on mx1
// -> 1485 ok, 15 failed, 15 / 1500 = 1 %; certificate-expired 11, starttls-not-supported 4.
const GROUPED = [
  report('Google Inc.', [
    sts('testing', 990, 10, [
      detail('certificate-expired', 6, 'mx1.example.com', '192.0.2.10', '198.51.100.1'),
      detail('starttls-not-supported', 4, 'mx2.example.com', '192.0.2.20', '198.51.100.1'),
    ]),
  ]),
  report('Microsoft Corporation', [sts('testing', 495, 0)]),
  report('Yahoo', [sts('testing', 0, 5, [detail('certificate-expired', 5, 'mx1.example.com', '192.0.2.10', '203.0.113.7')])], '2026-03-02'),
];

describe('evaluateWindow', () => {
  it('groups every reporter and result type of a domain into one alert', () => {
    const a = alertOf(input(GROUPED));
    assert.equal(a.severity, 'warning');
    assert.equal(a.policyDomain, 'example.com');
    assert.deepEqual(a.sessions, { successful: 1485, failed: 15, failurePercent: 1 });
    assert.deepEqual(a.dateRange, { start: '2026-03-01T00:00:00.000Z', end: '2026-03-02T23:59:59.000Z' });
    assert.deepEqual(
      a.reporters.map((r) => [r.organizationName, r.reports, r.successfulSessions, r.failedSessions]),
      [
        ['Google Inc.', 1, 990, 10],
        ['Yahoo', 1, 0, 5],
        ['Microsoft Corporation', 1, 495, 0],
      ],
    );
    assert.deepEqual(a.modes, [{ mode: 'testing', policyType: 'sts', organizations: ['Google Inc.', 'Microsoft Corporation', 'Yahoo'] }]);
    assert.deepEqual(
      a.resultTypes.map((t) => [t.resultType, t.failedSessions, t.critical, t.trigger]),
      [
        ['certificate-expired', 11, false, 'new'],
        ['starttls-not-supported', 4, false, 'new'],
      ],
    );
    const expired = a.resultTypes[0]!;
    assert.deepEqual(expired.receivingMxHostnames, [{ value: 'mx1.example.com', sessions: 11 }]);
    assert.deepEqual(expired.receivingIps, [{ value: '192.0.2.10', sessions: 11 }]);
    assert.deepEqual(expired.sendingMtaIps, [
      { value: '198.51.100.1', sessions: 6 },
      { value: '203.0.113.7', sessions: 5 },
    ]);
    assert.match(expired.fix, /^Renew the certificate on that MX/);
    assert.deepEqual(a.criticalReasons, []);
  });

  it('applies the minimum failed sessions and the minimum failure rate, both inclusive', () => {
    const rule = (minFailedSessions: number, minFailurePercent: number): DomainAlertRule => ({
      ...RULE,
      warning: { minFailedSessions, minFailurePercent },
    });
    assert.equal(evaluateWindow(input(GROUPED, { rule: rule(16, 0) })).outcome, 'below-threshold'); // 15 < 16
    assert.equal(evaluateWindow(input(GROUPED, { rule: rule(15, 0) })).outcome, 'alert');
    assert.equal(evaluateWindow(input(GROUPED, { rule: rule(1, 1.01) })).outcome, 'below-threshold'); // 1 % < 1.01 %
    assert.equal(evaluateWindow(input(GROUPED, { rule: rule(1, 1) })).outcome, 'alert');
    assert.equal(evaluateWindow(input(GROUPED, { rule: { ...RULE, enabled: false } })).outcome, 'disabled');
  });

  it('does not alert on a window without failed sessions', () => {
    const e = evaluateWindow(input([report('Google Inc.', [sts('enforce', 100, 0)])]));
    assert.equal(e.outcome, 'below-threshold');
    assert.deepEqual(e.totals, { successful: 100, failed: 0, criticalFailed: 0 });
  });

  it('makes failures under an enforced policy the louder critical class, even below the warning thresholds', () => {
    // 2 failed of 4525: 0.0442 %, below a 1 % warning threshold; the critical class has its own.
    const enforce = [
      report('Google Inc.', [sts('enforce', 4523, 2, [detail('certificate-expired', 2, 'mail.example.com', null, '192.0.2.1')])]),
    ];
    const a = alertOf(input(enforce, { rule: { ...RULE, warning: { minFailedSessions: 1, minFailurePercent: 1 } } }));
    assert.equal(a.severity, 'critical');
    assert.equal(a.sessions.failurePercent, 0.04);
    assert.equal(a.resultTypes[0]!.critical, true);
    assert.equal(a.criticalReasons.length, 1);
    assert.match(a.criticalReasons[0]!, /enforce mode/);

    // Critical thresholds out of reach but warning ones met: a warning, without the critical reasons.
    const w = alertOf(input(enforce, { rule: { ...RULE, critical: { minFailedSessions: 3, minFailurePercent: 0 } } }));
    assert.equal(w.severity, 'warning');
    assert.deepEqual(w.criticalReasons, []);
    assert.equal(
      evaluateWindow(
        input(enforce, {
          rule: {
            ...RULE,
            warning: { minFailedSessions: 5, minFailurePercent: 0 },
            critical: { minFailedSessions: 3, minFailurePercent: 0 },
          },
        }),
      ).outcome,
      'below-threshold',
    );
  });

  it('makes sts-* policy failures critical in testing mode too, and names the policy host of the domain', () => {
    const a = alertOf(input([report('Microsoft Corporation', [sts('testing', 0, 7, [detail('sts-policy-fetch-error', 7)])])]));
    assert.equal(a.severity, 'critical');
    assert.match(a.criticalReasons[0]!, /The MTA-STS policy itself failed \(sts-policy-fetch-error\)/);
    const t = a.resultTypes[0]!;
    assert.equal(t.resultType, 'sts-policy-fetch-error');
    assert.match(t.meaning, /https:\/\/mta-sts\.example\.com\/\.well-known\/mta-sts\.txt/);
    assert.match(t.fix, /mta-sts\.example\.com/);
    assert.deepEqual(t.receivingMxHostnames, []); // Microsoft leaves them out for fetch errors (quirk 3)
  });

  it('counts DANE and MTA-STS policies of one report for the same sessions once (quirk 5), DANE being enforced', () => {
    const tlsa: WindowPolicy = {
      policyType: 'tlsa',
      policyString: ['3 1 1 AB'],
      successfulSessions: 100,
      failedSessions: 2,
      details: [detail('certificate-expired', 2, 'mx.example.com')],
    };
    const a = alertOf(
      input([report('Microsoft Corporation', [tlsa, sts('testing', 100, 2, [detail('certificate-expired', 2, 'mx.example.com')])])]),
    );
    assert.deepEqual(a.sessions, { successful: 100, failed: 2, failurePercent: 1.96 }); // 2 / 102 = 1.96 %, not 4 / 204
    assert.deepEqual(
      a.resultTypes.map((t) => [t.resultType, t.failedSessions, t.critical]),
      [['certificate-expired', 2, true]],
    );
    assert.equal(a.severity, 'critical');
    assert.deepEqual(
      a.modes.map((m) => m.mode),
      ['dane', 'testing'],
    );
    assert.match(a.criticalReasons.join(' '), /DANE has no testing mode/);
  });

  it('counts the failed total the report states, as the stats do, and lists every failure detail (quirk 4)', () => {
    // Mail.ru: total-failure-session-count 1, but two details of 1 session each. daily_domain_stats and the
    // readiness verdict count 1 failed session (the totals as sent); failure_stats lists both details.
    const a = alertOf(
      input([report('Mail.Ru', [sts('testing', 0, 1, [detail('sts-policy-fetch-error', 1), detail('sts-webpki-invalid', 1)])])]),
    );
    assert.deepEqual(a.sessions, { successful: 0, failed: 1, failurePercent: 100 });
    assert.deepEqual(
      a.resultTypes.map((t) => [t.resultType, t.failedSessions]),
      [
        ['sts-policy-fetch-error', 1],
        ['sts-webpki-invalid', 1],
      ],
    );
  });

  it('alerts on failures counted without any failure detail, under a name of its own', () => {
    const a = alertOf(input([report('Company-X', [sts('testing', 10, 3)])]));
    assert.deepEqual(
      a.resultTypes.map((t) => [t.resultType, t.failedSessions]),
      [[NO_FAILURE_DETAILS, 3]],
    );
    assert.match(a.resultTypes[0]!.fix, /Test each MX of example\.com/);
  });

  it('reads the policy mode as reported (RFC 8461 3.2 "mode:" line)', () => {
    assert.equal(policyMode('sts', ['version: STSv1', 'mode: enforce']), 'enforce');
    assert.equal(policyMode('sts', ['Mode:testing']), 'testing');
    assert.equal(policyMode('sts', [' mode : none ']), 'none');
    assert.equal(policyMode('sts', []), 'unknown');
    // The whole policy in one element (issue 12: this read "unknown" in the alert, "enforce" in tlsrpt check).
    assert.equal(policyMode('sts', ['version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800']), 'enforce');
    assert.equal(policyMode('sts', ['mode: bogus']), 'unknown');
    assert.equal(policyMode('tlsa', []), 'dane');
    assert.equal(policyMode('no-policy-found', []), 'no-policy');
  });
});

describe('evaluateWindow over a sequence of windows (cooldown 24 h, growth factor 2)', () => {
  /** Plays windows in order, keeping the cooldown history the way settleWindow's query does. */
  function play(windows: Array<{ atHours: number; reports: WindowReport[] }>) {
    const history = new Map<string, CooldownState>();
    return windows.map(({ atHours, reports }) => {
      const openedAt = new Date(T0.getTime() + atHours * HOUR);
      const e = evaluateWindow(input(reports, { openedAt, history: [...history.values()] }));
      if (e.outcome === 'alert') {
        for (const t of e.alert.resultTypes) {
          if (t.trigger)
            history.set(t.resultType, {
              resultType: t.resultType,
              alertedAt: openedAt,
              failedSessions: t.failedSessions,
              critical: t.critical,
            });
        }
        return e.alert.resultTypes.map((t) => `${t.resultType}=${t.failedSessions}:${t.trigger ?? 'cooldown'}`).join(' ');
      }
      return e.outcome;
    });
  }
  const expired = (n: number, mode = 'testing') => [
    report('Google Inc.', [sts(mode, 1000, n, [detail('certificate-expired', n, 'mx1.example.com')])]),
  ];

  it('suppresses repeats, and repeats on growth, on a new result type, after the cooldown and when turning critical', () => {
    assert.deepEqual(
      play([
        { atHours: 0, reports: expired(10) }, // first time: alert
        { atHours: 2, reports: expired(15) }, // 15 < 2 x 10: in cooldown, no alert
        {
          atHours: 4, // a new result type alerts; certificate-expired rides along in its cooldown
          reports: [
            report('Google Inc.', [sts('testing', 1000, 15, [detail('certificate-expired', 12), detail('starttls-not-supported', 3)])]),
          ],
        },
        { atHours: 6, reports: expired(20) }, // 20 >= 2 x 10: grown
        { atHours: 29, reports: expired(1) }, // 29 - 6 = 23 h < 24 h, 1 < 40: cooldown
        { atHours: 30, reports: expired(1) }, // 30 - 6 = 24 h: cooldown over
        { atHours: 31, reports: expired(1, 'enforce') }, // policy now enforced: critical repeats at once
        { atHours: 32, reports: expired(1, 'enforce') }, // critical and alerted as critical 1 h ago: cooldown
      ]),
      [
        'certificate-expired=10:new',
        'cooldown',
        'certificate-expired=12:cooldown starttls-not-supported=3:new',
        'certificate-expired=20:grown',
        'cooldown',
        'certificate-expired=1:cooldown-over',
        'certificate-expired=1:now-critical',
        'cooldown',
      ],
    );
  });

  it('lists the earlier alert beside a repeated result type', () => {
    const history: CooldownState[] = [
      { resultType: 'certificate-expired', alertedAt: new Date(T0.getTime() - 2 * HOUR), failedSessions: 4, critical: false },
    ];
    const a = alertOf(input(expired(9), { history }));
    assert.deepEqual(a.resultTypes[0]!.previous, { alertedAt: '2026-03-02T04:00:00.000Z', failedSessions: 4 });
    assert.equal(a.resultTypes[0]!.trigger, 'grown'); // 9 >= 2 x 4
  });
});
