/**
 * The shared HTTP server (tlsrpt serve / tlsrpt http) hosts the configured MTA-STS policies beside the report
 * endpoint: by Host header, text/plain, configured hosts only.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { startHttpHarness } from '../helpers/httpHarness.js';
import { createTestDatabase } from '../helpers/testDatabase.js';

const POLICY = 'version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: *.mail.example.com\nmax_age: 604800\n';

function get(port: number, host: string, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('serves each configured policy for its mta-sts host, and nothing for other hosts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-policies-'));
  writeFileSync(join(dir, 'example.com.txt'), POLICY);
  const shared = join(mkdtempSync(join(tmpdir(), 'tlsrpt-shared-')), 'shared-policy.txt');
  writeFileSync(shared, POLICY.replace('mode: testing', 'mode: enforce'));
  const h = await startHttpHarness(
    { MTA_STS_POLICY_DIR: dir, MTA_STS_POLICY_FILE: shared, MTA_STS_DOMAINS: 'example.org,example.net' },
    { worker: false },
  );
  try {
    const own = await get(h.http.port, 'mta-sts.example.com', '/.well-known/mta-sts.txt');
    assert.equal(own.status, 200);
    assert.match(own.type, /^text\/plain/);
    assert.equal(own.body, POLICY);
    const sharedOne = await get(h.http.port, 'MTA-STS.Example.NET:8080', '/.well-known/mta-sts.txt');
    assert.equal(sharedOne.status, 200);
    assert.match(sharedOne.body, /mode: enforce/);
    assert.equal((await get(h.http.port, 'mta-sts.unknown.example', '/.well-known/mta-sts.txt')).status, 404);
    assert.equal((await get(h.http.port, 'example.com', '/.well-known/mta-sts.txt')).status, 404);
  } finally {
    await h.close();
  }
});

it('refuses to start with an invalid hosted policy, naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-policies-'));
  writeFileSync(join(dir, 'example.com.txt'), 'version: STSv1\nmode: sometimes\nmax_age: 604800\n');
  const db = await createTestDatabase();
  try {
    await assert.rejects(startHttpHarness({ MTA_STS_POLICY_DIR: dir }, { worker: false, db }), (err: Error) => {
      assert.match(err.message, /example\.com\.txt/);
      return true;
    });
  } finally {
    await db.drop();
  }
});
