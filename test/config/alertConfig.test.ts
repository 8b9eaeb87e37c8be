/** The ALERT_* variables and ALERT_RULES_FILE: defaults, destinations, and loud errors naming the variable. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ruleFor } from '../../src/config/alertConfig.js';
import { describeConfig, loadConfig } from '../../src/config/loadConfig.js';
import { assertConfigError } from '../helpers/assertConfigError.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-alert-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rulesFile(content: string): string {
  const path = join(dir, `rules-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, content);
  return path;
}

const SLACK = 'https://hooks.slack.com/services/T000/B000/sEcReTtOkEn';

describe('alert configuration', () => {
  it('has documented defaults: no destinations, alert on any failure, 10 min grouping, 24 h cooldown', () => {
    const a = loadConfig({}).alerts;
    assert.deepEqual(a.destinations, []);
    assert.deepEqual(a.defaultRule, {
      enabled: true,
      warning: { minFailedSessions: 1, minFailurePercent: 0 },
      critical: { minFailedSessions: 1, minFailurePercent: 0 },
      quietReporterDays: 0,
    });
    assert.equal(a.groupWaitMs, 600_000);
    assert.equal(a.cooldownMs, 86_400_000);
    assert.equal(a.growthFactor, 2);
    assert.equal(a.deliveryAttempts, 10);
    assert.equal(a.retryDelayMs, 30_000);
    assert.ok(Object.isFrozen(a.defaultRule.warning));
  });

  it('reads every destination, masks secrets in what is shown, and collapses a URL listed twice', () => {
    const a = loadConfig({
      ALERT_WEBHOOK_URLS: 'https://ops.example.com/hooks/tlsrpt?token=abc, http://127.0.0.1:9000/a',
      ALERT_SLACK_WEBHOOK_URLS: `${SLACK} ${SLACK}`,
      ALERT_EMAIL_SMTP_URL: 'smtp://alerts:pa55@mail.example.com:587',
      ALERT_EMAIL_FROM: 'tlsrpt@example.com',
      ALERT_EMAIL_TO: 'ops@example.com, postmaster@example.com',
    }).alerts;
    assert.deepEqual(
      a.destinations.map((d) => [d.kind, d.target]),
      [
        ['webhook', 'https://ops.example.com/hooks/***?***'],
        ['webhook', 'http://127.0.0.1:9000/a'],
        ['slack', 'https://hooks.slack.com/services/***'],
        ['email', 'smtp://alerts:***@mail.example.com:587 -> ops@example.com, postmaster@example.com'],
      ],
    );
    assert.equal(new Set(a.destinations.map((d) => d.key)).size, 4);
    assert.match(a.destinations[2]!.key, /^slack-[0-9a-f]{12}$/);

    const shown = JSON.stringify(
      describeConfig(
        loadConfig({
          ALERT_SLACK_WEBHOOK_URLS: SLACK,
          ALERT_EMAIL_SMTP_URL: 'smtps://u:pa55@mail.example.com',
          ALERT_EMAIL_FROM: 'a@example.com',
          ALERT_EMAIL_TO: 'b@example.com',
        }),
      ),
    );
    assert.ok(!shown.includes('sEcReTtOkEn'), shown);
    assert.ok(!shown.includes('pa55'), shown);
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ ALERT_WEBHOOK_URLS: 'ftp://example.com/x' }, 'ALERT_WEBHOOK_URLS', /scheme "ftp:"/],
    [{ ALERT_SLACK_WEBHOOK_URLS: 'hooks.slack.com/services/x' }, 'ALERT_SLACK_WEBHOOK_URLS', /not a URL/],
    [{ ALERT_EMAIL_TO: 'ops@example.com' }, 'ALERT_EMAIL_SMTP_URL', /set all three/],
    [{ ALERT_EMAIL_SMTP_URL: 'smtp://mail.example.com', ALERT_EMAIL_TO: 'ops@example.com' }, 'ALERT_EMAIL_FROM', /sender address/],
    [{ ALERT_EMAIL_SMTP_URL: 'smtp://mail.example.com', ALERT_EMAIL_FROM: 'a@example.com' }, 'ALERT_EMAIL_TO', /recipient/],
    [
      { ALERT_EMAIL_SMTP_URL: 'http://mail.example.com', ALERT_EMAIL_FROM: 'a@example.com', ALERT_EMAIL_TO: 'b@example.com' },
      'ALERT_EMAIL_SMTP_URL',
      /not smtp: or smtps:/,
    ],
    [
      { ALERT_EMAIL_SMTP_URL: 'smtp://mail.example.com', ALERT_EMAIL_FROM: 'a@example.com', ALERT_EMAIL_TO: 'ops' },
      'ALERT_EMAIL_TO',
      /not a plain e-mail address/,
    ],
    [{ ALERT_MIN_FAILED_SESSIONS: '0' }, 'ALERT_MIN_FAILED_SESSIONS', /out of range: use 1 to /],
    [{ ALERT_MIN_FAILURE_PERCENT: '150' }, 'ALERT_MIN_FAILURE_PERCENT', /out of range: use 0 to 100/],
    [{ ALERT_GROWTH_FACTOR: '1' }, 'ALERT_GROWTH_FACTOR', /must be above 1/],
    [{ ALERT_COOLDOWN_HOURS: 'a day' }, 'ALERT_COOLDOWN_HOURS', /not a number/],
    [{ ALERT_RULES_FILE: '/nonexistent/rules.json' }, 'ALERT_RULES_FILE', /cannot read/],
  ];
  for (const [env, variable, message] of bad) {
    it(`fails naming ${variable} for ${JSON.stringify(env)}`, () => {
      assertConfigError(() => loadConfig(env), variable, message);
    });
  }

  it('reads per-domain rules, falling back to the global values key by key', () => {
    const path = rulesFile(
      JSON.stringify({
        domains: {
          'Example.COM': { minFailedSessions: 10, minFailurePercent: 0.5, quietReporterDays: 3 },
          'noisy.example.org': { enabled: false },
        },
      }),
    );
    const a = loadConfig({ ALERT_RULES_FILE: path, ALERT_CRITICAL_MIN_FAILED_SESSIONS: '2' }).alerts;
    assert.deepEqual(ruleFor(a, 'example.com'), {
      enabled: true,
      warning: { minFailedSessions: 10, minFailurePercent: 0.5 },
      critical: { minFailedSessions: 2, minFailurePercent: 0 },
      quietReporterDays: 3,
    });
    assert.equal(ruleFor(a, 'NOISY.example.org').enabled, false);
    assert.equal(ruleFor(a, 'other.example'), a.defaultRule);
  });

  const badRules: Array<[string, RegExp]> = [
    ['{"domains": {"example.com": {"minFailedSesions": 10}}}', /domains\["example\.com"\]: unknown key "minFailedSesions"/],
    ['{"domains": {"example.com": {"minFailurePercent": "5%"}}}', /minFailurePercent: "5%" must be a number in 0\.\.100/],
    ['{"domains": {"example.com": {"minFailedSessions": 2.5}}}', /must be a whole number/],
    ['{"domains": {"not a domain": {}}}', /is not a domain name/],
    ['{"domain": {}}', /unknown key "domain"/],
    ['{"domains": ', /not valid JSON/],
  ];
  for (const [content, message] of badRules) {
    it(`refuses the rules file ${content}`, () => {
      assertConfigError(() => loadConfig({ ALERT_RULES_FILE: rulesFile(content) }), 'ALERT_RULES_FILE', message);
    });
  }
});
