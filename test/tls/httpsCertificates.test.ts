/**
 * HTTPS with a certbot-style MTA_STS_CERT_DIR: each connection gets the certificate for the name it asks for
 * (SNI), else the HTTPS pair; a renewal (symlinks repointed) is picked up by the change check and by a reload
 * (SIGHUP); a broken sub-folder is logged and skipped, a broken renewal keeps the pair in service; METRICS_PORT
 * serves /metrics, /healthz and /readyz in plain HTTP beside it.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { startHttpService } from '../../src/services/httpService.js';
import { servedCertificate } from '../helpers/certificates.js';
import { createCertbotDir, type CertbotDir } from '../helpers/certbotDir.js';
import { captureLog } from '../helpers/captureLog.js';
import { startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';
import { createTestCa, type TestCa } from '../helpers/testCa.js';
import { testConfig } from '../helpers/testConfig.js';
import { createTestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';

const POLICY = 'version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 604800\n';

function get(
  scheme: 'http' | 'https',
  port: number,
  path: string,
  host: string,
  options: { servername?: string; ca?: Buffer } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = scheme === 'https' ? httpsRequest : httpRequest;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        headers: { host },
        ...(scheme === 'https' ? { servername: options.servername ?? host, ca: options.ca, rejectUnauthorized: Boolean(options.ca) } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS certificates chosen by SNI from MTA_STS_CERT_DIR', () => {
  let ca: TestCa;
  let certbot: CertbotDir;
  let policies: string;
  let fallbackDir: string;
  let h: HttpHarness;
  const logged = captureLog();

  before(async () => {
    ca = createTestCa();
    certbot = createCertbotDir();
    certbot.install('mta-sts.example.com', ca.issue(['mta-sts.example.com']));
    certbot.install('mta-sts.example.net', ca.issue(['mta-sts.example.net']));
    certbot.install('example.org', ca.issue(['example.org', '*.example.org']));
    // Broken sub-folders: a key from another pair, a missing key, a certificate cut short.
    certbot.install('mismatch.example', { cert: ca.issue(['mta-sts.mismatch.example']).cert, key: ca.issue(['other.example']).key });
    mkdirSync(join(certbot.live, 'nokey.example'));
    writeFileSync(join(certbot.live, 'nokey.example', 'fullchain.pem'), ca.issue(['mta-sts.nokey.example']).cert);
    const cut = ca.issue(['mta-sts.cut.example']);
    certbot.install('cut.example', { cert: cut.cert.subarray(0, 200), key: cut.key });

    policies = mkdtempSync(join(tmpdir(), 'tlsrpt-sni-policies-'));
    for (const d of ['example.com', 'example.net', 'example.org']) writeFileSync(join(policies, `${d}.txt`), POLICY);
    fallbackDir = mkdtempSync(join(tmpdir(), 'tlsrpt-sni-pair-'));
    const pair = ca.issue(['reports.tlsrpt.test']);
    writeFileSync(join(fallbackDir, 'cert.pem'), pair.cert);
    writeFileSync(join(fallbackDir, 'key.pem'), pair.key);

    h = await startHttpHarness(
      {
        HTTP_TLS_CERT: join(fallbackDir, 'cert.pem'),
        HTTP_TLS_KEY: join(fallbackDir, 'key.pem'),
        MTA_STS_CERT_DIR: certbot.live,
        MTA_STS_POLICY_DIR: policies,
        METRICS_PORT: '0',
        TLS_RELOAD_CHECK_SECONDS: '0',
      },
      { worker: false, log: logged.log, receiver: { tlsWatchIntervalMs: 50 } },
    );
  });
  after(async () => {
    await h?.close();
    ca?.cleanup();
    certbot?.cleanup();
    rmSync(policies, { recursive: true, force: true });
    rmSync(fallbackDir, { recursive: true, force: true });
  });

  it('serves each mta-sts name its own certificate, valid for that name, and the policy over it', async () => {
    for (const name of ['mta-sts.example.com', 'mta-sts.example.net', 'mta-sts.example.org']) {
      const served = await servedCertificate(h.http.port, { servername: name, ca: ca.caCert });
      assert.equal(served.authorized, true, `${name}: ${served.subjectAltName}`);
      const res = await get('https', h.http.port, '/.well-known/mta-sts.txt', name, { ca: ca.caCert });
      assert.equal(res.status, 200);
      assert.equal(res.body, POLICY);
    }
    // The wildcard covers one label, and the folder's other name too.
    assert.match((await servedCertificate(h.http.port, { servername: 'MTA-STS.Example.ORG' })).subjectAltName, /\*\.example\.org/);
    assert.match((await servedCertificate(h.http.port, { servername: 'example.org' })).subjectAltName, /DNS:example\.org/);
  });

  it('falls back to the HTTPS pair for a name the folder has no certificate for, and without SNI', async () => {
    for (const servername of ['mta-sts.unknown.test', 'a.b.example.org', undefined]) {
      const served = await servedCertificate(h.http.port, { servername });
      assert.equal(served.commonName, 'reports.tlsrpt.test', String(servername));
    }
  });

  it('logs each broken sub-folder with what is wrong, skips it, and passes over the README file', () => {
    const skipped = logged.lines.filter((l) => l.msg === 'MTA_STS_CERT_DIR: sub-folder skipped');
    const byFolder = Object.fromEntries(skipped.map((l) => [l.folder, l.reason]));
    assert.deepEqual(byFolder, {
      'cut.example': 'certificate-invalid',
      'mismatch.example': 'key-mismatch',
      'nokey.example': 'file-unreadable',
    });
    const loaded = logged.lines.find((l) => l.msg === 'MTA_STS_CERT_DIR: certificates loaded');
    assert.equal(loaded?.certificates, 3);
    assert.equal(loaded?.skipped, 3);
  });

  it('serves /metrics, /healthz and /readyz in plain HTTP on METRICS_PORT, and nothing else there', async () => {
    assert.ok(h.http.metricsPort);
    const port = h.http.metricsPort;
    assert.equal((await get('http', port, '/healthz', '127.0.0.1')).status, 200);
    assert.equal((await get('http', port, '/readyz', '127.0.0.1')).status, 200);
    const metrics = await get('http', port, '/metrics', '127.0.0.1');
    assert.equal(metrics.status, 200);
    for (const folder of ['mta-sts.example.com', 'mta-sts.example.net', 'example.org']) {
      assert.match(
        metrics.body,
        new RegExp(`tlsrpt_tls_certificate_expiry_timestamp_seconds\\{use="mta-sts",certificate="${folder}"\\} \\d+`),
      );
    }
    assert.match(metrics.body, /tlsrpt_tls_certificate_expiry_timestamp_seconds\{use="https",certificate="[^"]+cert\.pem"\} \d+/);
    assert.match(metrics.body, /^tlsrpt_https_certificate_expiry_timestamp_seconds \d+$/m);
    assert.equal((await get('http', port, '/.well-known/mta-sts.txt', 'mta-sts.example.com')).status, 404);
    assert.equal((await get('http', port, '/tlsrpt', '127.0.0.1')).status, 404);
    // The main port stays HTTPS only.
    await assert.rejects(get('http', h.http.port, '/healthz', '127.0.0.1'));
  });

  it('serves a renewed certificate once certbot repoints the links, found by the change check', async () => {
    const before = await servedCertificate(h.http.port, { servername: 'mta-sts.example.com' });
    certbot.install('mta-sts.example.com', ca.issue(['mta-sts.example.com']));
    await waitFor(
      'the renewed certificate to be served',
      async () => (await servedCertificate(h.http.port, { servername: 'mta-sts.example.com' })).fingerprint256 !== before.fingerprint256,
    );
    assert.equal((await servedCertificate(h.http.port, { servername: 'mta-sts.example.com', ca: ca.caCert })).authorized, true);
  });

  it('adds a new sub-folder and drops a removed one', async () => {
    certbot.install('mta-sts.example.info', ca.issue(['mta-sts.example.info']));
    await waitFor(
      'the new folder to be served',
      async () => (await servedCertificate(h.http.port, { servername: 'mta-sts.example.info' })).commonName === 'mta-sts.example.info',
    );
    rmSync(join(certbot.live, 'mta-sts.example.info'), { recursive: true });
    await waitFor(
      'the removed folder to fall back',
      async () => (await servedCertificate(h.http.port, { servername: 'mta-sts.example.info' })).commonName === 'reports.tlsrpt.test',
    );
  });

  it('serves a renewed HTTPS pair to clients without SNI and to names the folder lacks', async () => {
    const renewed = ca.issue(['reports2.tlsrpt.test']);
    writeFileSync(join(fallbackDir, 'key.pem'), renewed.key);
    writeFileSync(join(fallbackDir, 'cert.pem'), renewed.cert);
    await waitFor('the renewed pair without SNI', async () => (await servedCertificate(h.http.port)).commonName === 'reports2.tlsrpt.test');
    assert.equal((await servedCertificate(h.http.port, { servername: 'mta-sts.unknown.test' })).commonName, 'reports2.tlsrpt.test');
    assert.equal((await servedCertificate(h.http.port, { servername: 'mta-sts.example.com' })).commonName, 'mta-sts.example.com');
  });

  it('keeps the certificate in service when a renewal is caught halfway, and logs why', async () => {
    const before = await servedCertificate(h.http.port, { servername: 'mta-sts.example.net' });
    certbot.installCertOnly('mta-sts.example.net', ca.issue(['mta-sts.example.net']).cert);
    assert.equal(await h.http.reloadTls(), 'failed');
    const refused = logged.lines.find((l) => l.msg === 'MTA_STS_CERT_DIR: certificate not reloaded; still serving the previous one');
    assert.equal(refused?.folder, 'mta-sts.example.net');
    assert.equal(refused?.reason, 'key-mismatch');
    assert.equal((await servedCertificate(h.http.port, { servername: 'mta-sts.example.net' })).fingerprint256, before.fingerprint256);

    const metrics = await get('http', h.http.metricsPort!, '/metrics', '127.0.0.1');
    assert.match(metrics.body, /tlsrpt_tls_certificate_reloads_total\{use="mta-sts",result="failed"\} [1-9]/);
    assert.match(metrics.body, /tlsrpt_tls_certificate_reloads_total\{use="mta-sts",result="reloaded"\} [1-9]/);
  });
});

describe('MTA_STS_CERT_DIR with nothing usable', () => {
  it('stops start-up with a clear error when no HTTPS pair could stand in', async () => {
    const certbot = createCertbotDir();
    const db = await createTestDatabase();
    try {
      mkdirSync(join(certbot.live, 'empty.example'));
      const config = testConfig(db.url, { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', MTA_STS_CERT_DIR: certbot.live });
      const { log, lines } = captureLog();
      await assert.rejects(startHttpService(config, log), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.variable, 'MTA_STS_CERT_DIR');
        assert.match(err.message, /no usable certificate in ".*live"/);
        return true;
      });
      assert.equal(lines.find((l) => l.msg === 'MTA_STS_CERT_DIR: sub-folder skipped')?.folder, 'empty.example');
    } finally {
      certbot.cleanup();
      await db.drop();
    }
  });
});
