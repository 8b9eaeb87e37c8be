/** The HTTP_* and METRICS_* variables: defaults, validation that names the variable, printing. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeConfig, loadConfig } from '../../src/config/loadConfig.js';
import { makeCertificate } from '../helpers/certificates.js';
import { assertConfigError } from '../helpers/assertConfigError.js';

describe('HTTP configuration', () => {
  it('has documented defaults', () => {
    const { http } = loadConfig({});
    assert.deepEqual(http, {
      host: '0.0.0.0',
      port: 8080,
      reportPath: '/tlsrpt',
      maxBodyBytes: 2 * 1024 * 1024,
      rateLimitPerMinute: 60,
      reportTokens: [],
      bodyTimeoutMs: 30_000,
      maxConnections: 256,
      tls: false,
      trustProxy: false,
      metrics: {
        domains: [],
        maxDomains: 100,
        allow: ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '::1/128', 'fc00::/7', 'fe80::/10'],
      },
    });
    assert.ok(Object.isFrozen(http) && Object.isFrozen(http.metrics));
  });

  it('reads every variable', () => {
    const { http } = loadConfig({
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '8443',
      HTTP_REPORT_PATH: '/reports/smtptls',
      HTTP_MAX_BODY_SIZE: '512KiB',
      HTTP_RATE_LIMIT_PER_MINUTE: '0',
      HTTP_BODY_TIMEOUT_SECONDS: '5',
      HTTP_MAX_CONNECTIONS: '50',
      HTTP_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8, loopback',
      METRICS_DOMAINS: 'Example.COM. example.org,example.org',
      METRICS_MAX_DOMAINS: '0',
      METRICS_ALLOW: '192.0.2.7, 2001:db8::/32',
    });
    assert.equal(http.port, 8443);
    assert.equal(http.reportPath, '/reports/smtptls');
    assert.equal(http.maxBodyBytes, 512 * 1024);
    assert.equal(http.rateLimitPerMinute, 0);
    assert.equal(http.bodyTimeoutMs, 5000);
    assert.equal(http.maxConnections, 50);
    assert.deepEqual(http.trustProxy, ['127.0.0.1', '10.0.0.0/8', 'loopback']);
    assert.deepEqual(http.metrics, { domains: ['example.com', 'example.org'], maxDomains: 0, allow: ['192.0.2.7', '2001:db8::/32'] });
    assert.equal(loadConfig({ METRICS_ALLOW: 'any' }).http.metrics.allow, null);
    assert.deepEqual(loadConfig({ METRICS_ALLOW: '203.0.113.0/24 private' }).http.metrics.allow?.slice(0, 2), [
      '203.0.113.0/24',
      '127.0.0.0/8',
    ]);
    assert.equal(loadConfig({ HTTP_TRUST_PROXY: '2' }).http.trustProxy, 2);
    assert.equal(loadConfig({ HTTP_TRUST_PROXY: 'on' }).http.trustProxy, true);
  });

  it('serves HTTPS when TLS_CERT/TLS_KEY are set, unless HTTP_TLS=off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-cfg-'));
    try {
      const pair = makeCertificate('cfg.tlsrpt.test');
      writeFileSync(join(dir, 'c.pem'), pair.cert);
      writeFileSync(join(dir, 'k.pem'), pair.key);
      const tls = { TLS_CERT: join(dir, 'c.pem'), TLS_KEY: join(dir, 'k.pem') };
      assert.equal(loadConfig(tls).http.tls, true);
      assert.equal(loadConfig({ ...tls, HTTP_TLS: 'on' }).http.tls, true);
      assert.equal(loadConfig({ ...tls, HTTP_TLS: 'off' }).http.tls, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ HTTP_PORT: '99999' }, 'HTTP_PORT', /out of range: use 0 to 65535/],
    [{ HTTP_REPORT_PATH: 'tlsrpt' }, 'HTTP_REPORT_PATH', /starting with "\/"/],
    [{ HTTP_REPORT_PATH: '/tlsrpt?x=1' }, 'HTTP_REPORT_PATH', /without query/],
    [{ HTTP_MAX_BODY_SIZE: 'huge' }, 'HTTP_MAX_BODY_SIZE', /not a size/],
    [{ HTTP_BODY_TIMEOUT_SECONDS: '0' }, 'HTTP_BODY_TIMEOUT_SECONDS', /out of range: use 1 to 3600/],
    [{ HTTP_TLS: 'maybe' }, 'HTTP_TLS', /not one of auto/],
    [{ HTTP_TLS: 'on' }, 'HTTP_TLS', /TLS_CERT and TLS_KEY are not set/],
    [{ HTTP_TRUST_PROXY: '10.0.0.0/40' }, 'HTTP_TRUST_PROXY', /not an address, a CIDR range/],
    [{ HTTP_TRUST_PROXY: 'proxy.example' }, 'HTTP_TRUST_PROXY', /not an address/],
    [{ METRICS_DOMAINS: 'not a domain' }, 'METRICS_DOMAINS', /not a domain name/],
    [{ METRICS_MAX_DOMAINS: '-1' }, 'METRICS_MAX_DOMAINS', /not a whole number/],
    [{ METRICS_ALLOW: 'everyone' }, 'METRICS_ALLOW', /not an address, a CIDR range or one of private/],
  ];
  for (const [env, variable, message] of bad) {
    it(`fails naming ${variable} for ${JSON.stringify(env)}`, () => {
      assertConfigError(() => loadConfig(env), variable, message);
    });
  }

  it('prints every HTTP variable', () => {
    const d = describeConfig(loadConfig({ HTTP_RATE_LIMIT_PER_MINUTE: '0' }));
    for (const name of [
      'HTTP_HOST',
      'HTTP_PORT',
      'HTTP_TLS',
      'HTTP_REPORT_PATH',
      'HTTP_MAX_BODY_SIZE',
      'HTTP_RATE_LIMIT_PER_MINUTE',
      'HTTP_BODY_TIMEOUT_SECONDS',
      'HTTP_MAX_CONNECTIONS',
      'HTTP_TRUST_PROXY',
      'METRICS_DOMAINS',
      'METRICS_MAX_DOMAINS',
      'METRICS_ALLOW',
    ]) {
      assert.ok(name in d, name);
    }
    assert.equal(d.HTTP_RATE_LIMIT_PER_MINUTE, '(off)');
    assert.equal(d.HTTP_TRUST_PROXY, 'off');
  });
});
