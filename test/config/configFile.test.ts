/**
 * The YAML configuration file (TLSRPT_CONFIG): keys are the variables' names, lists are YAML lists, the
 * environment wins, and every mistake names the file and line. Lists of 10,000 domains load and print short.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compareConfig } from '../../src/config/compareConfig.js';
import { describeConfig, loadConfig } from '../../src/config/loadConfig.js';
import { environmentHelp, variablesReadBy } from '../../src/config/environmentHelp.js';
import { summariseList } from '../../src/config/summariseList.js';
import { assertConfigError } from '../helpers/assertConfigError.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function configFile(yaml: string): string {
  const path = join(dir, `config-${++n}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

/** example-1.test ... example-N.test */
function domains(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `example-${i + 1}.test`);
}

describe('configuration file', () => {
  it('reads scalars and lists by variable name, as written', () => {
    const path = configFile(
      [
        'SMTP_PORT: 2526',
        'MAX_MESSAGE_SIZE: 512KiB',
        'HTTP_TLS: off',
        'ACCEPTED_RECIPIENTS:',
        '  - TLSRPT@Example.com',
        '  - reports.example.org',
        'METRICS_DOMAINS: example.com, example.org', // a list may also be one comma-separated string
        'ALERT_COOLDOWN_HOURS: 1.5',
        'SMTP_HOST:', // no value: unset, as an empty variable
      ].join('\n'),
    );
    const c = loadConfig({ TLSRPT_CONFIG: path });
    assert.equal(c.configFile, path);
    assert.equal(c.smtp.port, 2526);
    assert.equal(c.smtp.maxMessageBytes, 512 * 1024);
    assert.equal(c.smtp.host, '0.0.0.0');
    assert.equal(c.http.tls, false);
    assert.deepEqual(c.smtp.acceptedRecipients, ['tlsrpt@example.com', 'reports.example.org']);
    assert.deepEqual(c.http.metrics.domains, ['example.com', 'example.org']);
    assert.equal(c.alerts.cooldownMs, 1.5 * 3_600_000);
  });

  it('lets a non-empty environment variable win over the file', () => {
    const path = configFile('SMTP_PORT: 2526\nQUEUE_PREFIX: from-file\n');
    const c = loadConfig({ TLSRPT_CONFIG: path, SMTP_PORT: '2600', QUEUE_PREFIX: '' });
    assert.equal(c.smtp.port, 2600);
    assert.equal(c.queuePrefix, 'from-file');
  });

  it('treats an empty file as setting nothing', () => {
    assert.equal(loadConfig({ TLSRPT_CONFIG: configFile('') }).smtp.port, 2525);
    assert.equal(loadConfig({ TLSRPT_CONFIG: configFile('# only a comment\n') }).smtp.port, 2525);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['SMTP_PROT: 25\n', 'TLSRPT_CONFIG', /config-\d+\.yaml:1: unknown key "SMTP_PROT" \(did you mean SMTP_PORT\?\)/],
    [
      'SMTP_PORT: 25\nmetrics_domains: [a.example]\n',
      'TLSRPT_CONFIG',
      /:2: unknown key "metrics_domains" \(did you mean METRICS_DOMAINS\?\)/,
    ],
    ['SMTP_PORT: 25\nSMTP_PORT: 26\n', 'TLSRPT_CONFIG', /:2: not valid YAML: Map keys must be unique/],
    ['SMTP_PORT: [25\n', 'TLSRPT_CONFIG', /config-\d+\.yaml:\d+: not valid YAML/],
    ['- SMTP_PORT\n', 'TLSRPT_CONFIG', /:1: expected a mapping of variable names/],
    ['SMTP_PORT:\n  - 25\n', 'TLSRPT_CONFIG', /:1: SMTP_PORT takes one value, not a list/],
    ['HTTP_TLS:\n  mode: on\n', 'TLSRPT_CONFIG', /:1: HTTP_TLS must be a single value, not a mapping/],
    ['TLSRPT_CONFIG: /etc/other.yaml\n', 'TLSRPT_CONFIG', /read from the environment only/],
    ['QUEUE_PREFIX: x\nSMTP_PORT: 70000\n', 'SMTP_PORT', /out of range: use 0 to 65535 \(set in .*config-\d+\.yaml:2\)/],
    ['MTA_STS_DOMAINS:\n  - example.com\n  - not a domain\n', 'MTA_STS_DOMAINS', /"not a domain" is not a domain name.*\(set in .*:1\)/],
  ];
  for (const [yaml, variable, message] of bad) {
    it(`refuses ${JSON.stringify(yaml)}, naming ${variable} and the line`, () => {
      assertConfigError(() => loadConfig({ TLSRPT_CONFIG: configFile(yaml) }), variable, message);
    });
  }

  it('names a file it cannot read', () => {
    assertConfigError(() => loadConfig({ TLSRPT_CONFIG: join(dir, 'missing.yaml') }), 'TLSRPT_CONFIG', /missing\.yaml: cannot read/);
  });

  it('never shows a secret from the file in an error', () => {
    assertConfigError(
      () => loadConfig({ TLSRPT_CONFIG: configFile('ALERT_EMAIL_SMTP_URL: http://u:pa55w0rd@mail.example.com/x\n') }),
      'ALERT_EMAIL_SMTP_URL',
      /^(?!.*pa55w0rd).*not smtp: or smtps:/,
    );
  });
});

describe('10,000-entry lists from the file', () => {
  const list = domains(10_000);
  const policy = join(dir, 'shared-policy.txt');
  writeFileSync(policy, 'version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 604800\n');
  const yaml = [
    `MTA_STS_POLICY_FILE: ${policy}`,
    'MTA_STS_DOMAINS:',
    ...list.map((d) => `  - ${d}`),
    'METRICS_DOMAINS:',
    ...list.map((d) => `  - ${d}`),
    'ACCEPTED_RECIPIENTS:',
    ...list.map((d) => `  - tlsrpt@${d}`),
  ].join('\n');

  it('loads MTA_STS_DOMAINS, METRICS_DOMAINS and ACCEPTED_RECIPIENTS whole', () => {
    const c = loadConfig({ TLSRPT_CONFIG: configFile(yaml) });
    assert.equal(c.mtaSts.sharedDomains.length, 10_000);
    assert.equal(c.mtaSts.sharedDomains.at(-1), 'example-10000.test');
    assert.equal(c.http.metrics.domains.length, 10_000);
    assert.equal(c.smtp.acceptedRecipients.at(-1), 'tlsrpt@example-10000.test');
  });

  it('prints them as a count and the first entries, so the start-up log line stays short', () => {
    const described = describeConfig(loadConfig({ TLSRPT_CONFIG: configFile(yaml) }));
    assert.equal(described.MTA_STS_DOMAINS, '10000 entries: example-1.test, example-2.test, ... and 9998 more');
    assert.equal(described.ACCEPTED_RECIPIENTS, '10000 entries: tlsrpt@example-1.test, tlsrpt@example-2.test, ... and 9998 more');
    assert.ok(JSON.stringify(described).length < 8000, `${JSON.stringify(described).length} characters`);
  });
});

describe('describing and comparing', () => {
  it('shows short lists whole and long ones summarised', () => {
    assert.equal(summariseList(['a.example', 'b.example']), 'a.example, b.example');
    assert.equal(summariseList(domains(11)), '11 entries: example-1.test, example-2.test, ... and 9 more');
  });

  it('names each changed variable, how a running process takes it, and never a secret value', () => {
    const before = loadConfig({ SMTP_PORT: '25', ALERT_WEBHOOK_URLS: 'https://hooks.example.com/a?token=one' });
    const after = loadConfig({ SMTP_PORT: '26', ALERT_WEBHOOK_URLS: 'https://hooks.example.com/a?token=two', MTA_STS_DOMAINS: '' });
    const changes = compareConfig(before, after);
    assert.deepEqual(
      changes.map((c) => [c.name, c.reload, c.from, c.to]),
      [
        ['SMTP_PORT', 'restart', 25, 26],
        ['ALERT_WEBHOOK_URLS', 'alerts', '(secret)', '(secret)'],
      ],
    );
    assert.deepEqual(compareConfig(before, before), []);
  });

  it('lists in each command --help exactly the variables that command reads', () => {
    assert.ok(variablesReadBy('receiver').includes('ACCEPTED_RECIPIENTS'));
    assert.ok(!variablesReadBy('receiver').includes('HTTP_PORT'));
    assert.ok(variablesReadBy('http').includes('HTTP_PORT'));
    assert.ok(!variablesReadBy('http').includes('SMTP_PORT'));
    assert.ok(variablesReadBy('worker').includes('ALERT_WEBHOOK_URLS'));
    assert.ok(!variablesReadBy('worker').includes('SMTP_PORT'));
    assert.deepEqual(variablesReadBy('migrate'), ['TLSRPT_CONFIG', 'DATABASE_URL']);
    const serve = variablesReadBy('serve');
    for (const name of [...variablesReadBy('receiver'), ...variablesReadBy('worker'), ...variablesReadBy('http')]) {
      assert.ok(serve.includes(name), name);
    }
    assert.match(environmentHelp('receiver'), /^ {2}SMTP_PORT +port the SMTP receiver listens on .*\[2525\]$/m);
  });
});
