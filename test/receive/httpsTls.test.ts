/**
 * HTTPS served with TLS_CERT/TLS_KEY, the pair re-read when its files change, and a broken renewal (a key that
 * does not match the certificate) leaving the served pair in place.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { realFixture } from '../helpers/fixtures.js';
import { makeCertificate, servedCommonName, type CertificatePair } from '../helpers/certificates.js';
import { postReport, startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';
import { waitFor } from '../helpers/waitFor.js';

/** POST over HTTPS with node's client (fetch cannot be told to accept a self-signed certificate). */
function postHttps(port: number, body: Buffer, contentType: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/tlsrpt', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': contentType } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function getHttps(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

describe('HTTPS with TLS_CERT and TLS_KEY', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-https-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const install = (p: CertificatePair) => {
    writeFileSync(keyPath, p.key);
    writeFileSync(certPath, p.cert);
  };
  let first: CertificatePair;
  let renewed: CertificatePair;
  let h: HttpHarness;

  before(async () => {
    first = makeCertificate('first.tlsrpt.test');
    renewed = makeCertificate('renewed.tlsrpt.test');
    install(first);
    h = await startHttpHarness({ TLS_CERT: certPath, TLS_KEY: keyPath }, { worker: false, receiver: { tlsWatchIntervalMs: 50 } });
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS and stores a report POSTed over it', async () => {
    assert.equal(await servedCommonName(h.http.port), 'first.tlsrpt.test');
    const res = await postHttps(h.http.port, realFixture('dmarc-report-viewer--google.json'), 'application/tlsrpt+json');
    assert.equal(res.status, 200, res.body);
    const { id } = JSON.parse(res.body) as { id: number };
    const row = (await h.db.pool.query(`SELECT channel FROM raw_messages WHERE id = $1`, [id])).rows[0];
    assert.equal(row.channel, 'http');
  });

  it('refuses plain HTTP on the HTTPS port', async () => {
    await assert.rejects(postReport(`http://127.0.0.1:${h.http.port}/tlsrpt`, '{}', { 'content-type': 'application/tlsrpt+json' }));
  });

  it('reports when the served certificate expires', async () => {
    const text = await getHttps(h.http.port, '/metrics');
    const line = text.split('\n').find((l) => l.startsWith('tlsrpt_https_certificate_expiry_timestamp_seconds '));
    const expected = Math.floor(Date.parse(new X509Certificate(first.cert).validTo) / 1000);
    assert.equal(line, `tlsrpt_https_certificate_expiry_timestamp_seconds ${expected}`);
  });

  it('serves a renewed pair once the files change, without a restart', async () => {
    install(renewed);
    await waitFor('the renewed certificate to be served', async () => (await servedCommonName(h.http.port)) === 'renewed.tlsrpt.test');
    assert.equal(await h.http.reloadTls(), 'unchanged');
  });

  it('keeps the served pair when the new key does not match the new certificate', async () => {
    writeFileSync(certPath, first.cert); // renewal half done: the certificate changed, the key not yet
    assert.equal(await h.http.reloadTls(), 'failed');
    assert.equal(await servedCommonName(h.http.port), 'renewed.tlsrpt.test');
    const text = await getHttps(h.http.port, '/metrics');
    assert.match(text, /tlsrpt_https_certificate_reloads_total\{result="failed"\} [1-9]/);
    assert.match(text, /tlsrpt_https_certificate_reloads_total\{result="reloaded"\} 1/);

    writeFileSync(keyPath, first.key); // ...and completed
    // 'unchanged' when the file watcher got there first.
    assert.ok(['reloaded', 'unchanged'].includes(await h.http.reloadTls()));
    assert.equal(await servedCommonName(h.http.port), 'first.tlsrpt.test');
  });
});

describe('HTTP_TLS=off', () => {
  it('serves plain HTTP behind a proxy even though TLS_CERT/TLS_KEY are set (for STARTTLS)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-https-'));
    const pair = makeCertificate('smtp.tlsrpt.test');
    writeFileSync(join(dir, 'cert.pem'), pair.cert);
    writeFileSync(join(dir, 'key.pem'), pair.key);
    const h = await startHttpHarness(
      { TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem'), HTTP_TLS: 'off' },
      { worker: false },
    );
    try {
      assert.equal(h.config.smtp.tls !== null, true);
      const res = await postReport(h.url(), realFixture('dmarc-report-viewer--google.json'), { 'content-type': 'application/tlsrpt+json' });
      assert.equal(res.status, 200);
      assert.equal(await h.http.reloadTls(), 'not-https');
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
