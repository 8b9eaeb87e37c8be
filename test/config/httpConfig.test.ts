/** The HTTP_* and METRICS_* variables: defaults, validation that names the variable, printing. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
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
      certificate: null,
      certificateDir: null,
      metricsListener: null,
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

  describe('certificates per use', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-cfg-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string) => {
      const pair = makeCertificate(`${name}.tlsrpt.test`);
      writeFileSync(join(dir, `${name}-c.pem`), pair.cert);
      writeFileSync(join(dir, `${name}-k.pem`), pair.key);
      return { cert: join(dir, `${name}-c.pem`), key: join(dir, `${name}-k.pem`) };
    };
    const shared = write('shared');
    const smtp = write('smtp');
    const web = write('web');
    const tls = { TLS_CERT: shared.cert, TLS_KEY: shared.key };

    it('serves HTTPS when TLS_CERT/TLS_KEY are set, unless HTTP_TLS=off', () => {
      assert.equal(loadConfig(tls).http.tls, true);
      assert.equal(loadConfig({ ...tls, HTTP_TLS: 'on' }).http.tls, true);
      assert.equal(loadConfig({ ...tls, HTTP_TLS: 'off' }).http.tls, false);
      assert.equal(loadConfig({ ...tls, HTTP_TLS: 'off' }).http.certificate, null);
    });

    it('gives STARTTLS and HTTPS the shared pair unless each names its own', () => {
      const c = loadConfig(tls);
      assert.equal(c.smtp.tls?.certPath, shared.cert);
      assert.equal(c.http.certificate?.certPath, shared.cert);
      const own = loadConfig({ ...tls, SMTP_TLS_CERT: smtp.cert, SMTP_TLS_KEY: smtp.key, HTTP_TLS_CERT: web.cert, HTTP_TLS_KEY: web.key });
      assert.equal(own.smtp.tls?.certPath, smtp.cert);
      assert.equal(own.smtp.tls?.keyPath, smtp.key);
      assert.equal(own.http.certificate?.certPath, web.cert);
      assert.equal(own.http.certificate?.keyPath, web.key);
    });

    it('leaves HTTP plain when only the STARTTLS pair is set', () => {
      const c = loadConfig({ SMTP_TLS_CERT: smtp.cert, SMTP_TLS_KEY: smtp.key });
      assert.equal(c.smtp.tls?.certPath, smtp.cert);
      assert.equal(c.http.tls, false);
      assert.equal(c.http.certificate, null);
    });

    it('serves HTTPS with the HTTP pair alone, and STARTTLS stays off', () => {
      const c = loadConfig({ HTTP_TLS_CERT: web.cert, HTTP_TLS_KEY: web.key });
      assert.equal(c.smtp.tls, null);
      assert.equal(c.http.tls, true);
    });

    it('serves HTTPS with MTA_STS_CERT_DIR alone', () => {
      const c = loadConfig({ MTA_STS_CERT_DIR: dir });
      assert.equal(c.http.tls, true);
      assert.equal(c.http.certificate, null);
      assert.equal(c.http.certificateDir, dir);
      assert.equal(loadConfig({ MTA_STS_CERT_DIR: dir, HTTP_TLS: 'off' }).http.certificateDir, null);
    });

    it("never pairs one variable's certificate with another's key", () => {
      assertConfigError(
        () => loadConfig({ ...tls, SMTP_TLS_CERT: smtp.cert }),
        'SMTP_TLS_KEY',
        /SMTP_TLS_CERT is set but SMTP_TLS_KEY is not/,
      );
      assertConfigError(
        () => loadConfig({ ...tls, HTTP_TLS_KEY: web.key }),
        'HTTP_TLS_CERT',
        /HTTP_TLS_KEY is set but HTTP_TLS_CERT is not/,
      );
    });

    it('opens a plain-HTTP metrics listener on METRICS_PORT, on HTTP_HOST unless METRICS_HOST is set', () => {
      assert.deepEqual(loadConfig({ HTTP_HOST: '127.0.0.1', METRICS_PORT: '9100' }).http.metricsListener, {
        host: '127.0.0.1',
        port: 9100,
      });
      assert.deepEqual(loadConfig({ METRICS_PORT: '9100', METRICS_HOST: '10.0.0.5' }).http.metricsListener, {
        host: '10.0.0.5',
        port: 9100,
      });
    });
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ HTTP_PORT: '99999' }, 'HTTP_PORT', /out of range: use 0 to 65535/],
    [{ HTTP_REPORT_PATH: 'tlsrpt' }, 'HTTP_REPORT_PATH', /starting with "\/"/],
    [{ HTTP_REPORT_PATH: '/tlsrpt?x=1' }, 'HTTP_REPORT_PATH', /without query/],
    [{ HTTP_MAX_BODY_SIZE: 'huge' }, 'HTTP_MAX_BODY_SIZE', /not a size/],
    [{ HTTP_BODY_TIMEOUT_SECONDS: '0' }, 'HTTP_BODY_TIMEOUT_SECONDS', /out of range: use 1 to 3600/],
    [{ HTTP_TLS: 'maybe' }, 'HTTP_TLS', /not one of auto/],
    [
      { HTTP_TLS: 'on' },
      'HTTP_TLS',
      /no certificate is set: set HTTP_TLS_CERT and HTTP_TLS_KEY \(or TLS_CERT and TLS_KEY\), or MTA_STS_CERT_DIR/,
    ],
    [{ HTTP_TLS_CERT: '/nonexistent/cert.pem', HTTP_TLS_KEY: '/nonexistent/key.pem' }, 'HTTP_TLS_CERT', /cannot read/],
    [{ MTA_STS_CERT_DIR: '/nonexistent/live' }, 'MTA_STS_CERT_DIR', /cannot read/],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT', /out of range/],
    [{ TLS_RELOAD_CHECK_SECONDS: '-5' }, 'TLS_RELOAD_CHECK_SECONDS', /not a whole number/],
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
      'METRICS_PORT',
      'METRICS_HOST',
      'HTTP_TLS_CERT',
      'HTTP_TLS_KEY',
      'MTA_STS_CERT_DIR',
      'TLS_RELOAD_CHECK_SECONDS',
    ]) {
      assert.ok(name in d, name);
    }
    assert.equal(d.HTTP_RATE_LIMIT_PER_MINUTE, '(off)');
    assert.equal(d.HTTP_TRUST_PROXY, 'off');
  });
});
