/** The MTA-STS part of the configuration: defaults, accepted forms, and a named variable for every mistake. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { describeConfig, loadConfig } from '../../src/config/loadConfig.js';
import { assertConfigError } from '../helpers/assertConfigError.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-mtasts-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('MTA-STS configuration', () => {
  it('defaults to no hosted policies, no rua and the system resolver', () => {
    const c = loadConfig({}).mtaSts;
    assert.deepEqual(c, { policyDir: null, policyFile: null, sharedDomains: [], rua: [], dnsServers: [], extraCa: null });
    assert.ok(Object.isFrozen(c));
    const d = describeConfig(loadConfig({}));
    assert.equal(d.DNS_SERVERS, '(system resolver)');
    assert.equal(d.MTA_STS_POLICY_DIR, '(none)');
  });

  it('reads rua URIs, DNS servers with ports, shared domains and a CA file', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const policy = join(dir, 'shared.txt');
    const c = loadConfig({
      TLSRPT_RUA: 'MAILTO:tlsrpt@reports.example.com, https://reports.example.com/tlsrpt',
      DNS_SERVERS: '127.0.0.1:5353, [::1]:53 192.0.2.53 2001:db8::53',
      MTA_STS_POLICY_FILE: policy,
      MTA_STS_DOMAINS: 'Example.com, example.org.',
      MTA_STS_CA_FILE: ca,
    }).mtaSts;
    assert.deepEqual(c.rua, ['mailto:tlsrpt@reports.example.com', 'https://reports.example.com/tlsrpt']);
    assert.deepEqual(c.dnsServers, ['127.0.0.1:5353', '[::1]:53', '192.0.2.53:53', '[2001:db8::53]:53']);
    assert.deepEqual(c.sharedDomains, ['example.com', 'example.org']);
    assert.equal(c.policyFile, policy);
    assert.equal(c.extraCa?.path, ca);
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ TLSRPT_RUA: 'tlsrpt@example.com' }, 'TLSRPT_RUA', /did you mean "mailto:tlsrpt@example\.com"/],
    [{ TLSRPT_RUA: 'http://example.com/r' }, 'TLSRPT_RUA', /not a mailto: or https: URI/],
    [{ DNS_SERVERS: 'dns.example.com' }, 'DNS_SERVERS', /not an IP address/],
    [{ DNS_SERVERS: '127.0.0.1:99999' }, 'DNS_SERVERS', /not an IP address/],
    [{ MTA_STS_POLICY_DIR: '/nonexistent/policies' }, 'MTA_STS_POLICY_DIR', /cannot read/],
    [{ MTA_STS_POLICY_FILE: '/tmp/x.txt' }, 'MTA_STS_DOMAINS', /list the domains/],
    [{ MTA_STS_DOMAINS: 'example.com' }, 'MTA_STS_POLICY_FILE', /name the policy file/],
    [{ MTA_STS_POLICY_FILE: '/tmp/x.txt', MTA_STS_DOMAINS: 'exa mple..com' }, 'MTA_STS_DOMAINS', /not a domain name/],
    [{ MTA_STS_CA_FILE: '/nonexistent/ca.pem' }, 'MTA_STS_CA_FILE', /cannot read/],
  ];
  for (const [env, variable, message] of bad) {
    it(`fails naming ${variable} for ${JSON.stringify(env)}`, () => {
      assertConfigError(() => loadConfig(env), variable, message);
    });
  }
});
