/**
 * `tlsrpt http` as a real process: it migrates, listens, takes a report, re-reads its certificate on SIGHUP,
 * and on SIGTERM finishes and exits 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projectPath } from '../../src/util/projectPath.js';
import { makeCertificate, servedCommonName } from '../helpers/certificates.js';
import { realFixture } from '../helpers/fixtures.js';
import { REDIS_URL } from '../helpers/services.js';
import { createTestDatabase } from '../helpers/testDatabase.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { waitFor } from '../helpers/waitFor.js';

describe('tlsrpt http', () => {
  it('serves HTTPS, reloads its certificate on SIGHUP, and stops cleanly on SIGTERM', async () => {
    const db = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-proc-'));
    const first = makeCertificate('first.tlsrpt.test');
    const renewed = makeCertificate('renewed.tlsrpt.test');
    writeFileSync(join(dir, 'cert.pem'), first.cert);
    writeFileSync(join(dir, 'key.pem'), first.key);
    const queuePrefix = `test-proc-${process.pid}`;
    const child = spawn(process.execPath, ['--import', 'tsx', projectPath('src/cli/main.ts'), 'http'], {
      cwd: projectPath(),
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        REDIS_URL,
        QUEUE_PREFIX: queuePrefix,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        TLS_CERT: join(dir, 'cert.pem'),
        TLS_KEY: join(dir, 'key.pem'),
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_SECONDS: '5',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const listening = await waitFor(
        `the process to listen (stderr: ${stderr})`,
        async () => lines.find((l) => l.msg === 'HTTPS server listening'),
        30_000,
      );
      const port = listening.port as number;
      assert.equal(await servedCommonName(port), 'first.tlsrpt.test');

      const status = await new Promise<number>((resolve, reject) => {
        https
          .request(
            {
              host: '127.0.0.1',
              port,
              path: '/tlsrpt',
              method: 'POST',
              rejectUnauthorized: false,
              headers: { 'content-type': 'application/tlsrpt+json' },
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject)
          .end(realFixture('dmarc-report-viewer--google.json'));
      });
      assert.equal(status, 200);

      writeFileSync(join(dir, 'key.pem'), renewed.key);
      writeFileSync(join(dir, 'cert.pem'), renewed.cert);
      child.kill('SIGHUP');
      await waitFor('the renewed certificate after SIGHUP', async () => (await servedCommonName(port)) === 'renewed.tlsrpt.test');
      // The log lines arrive through the child's stdout pipe, possibly after the new certificate is served.
      await waitFor('the SIGHUP log line', async () => lines.some((l) => l.msg === 'SIGHUP: re-reading the configuration'));
      await waitFor('the reload log line', async () => lines.some((l) => l.msg === 'TLS certificate reloaded'));

      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.ok(lines.some((l) => l.msg === 'stopped'));
      const stored = await db.pool.query(`SELECT count(*)::int AS n FROM raw_messages WHERE channel = 'http'`);
      assert.equal(stored.rows[0].n, 1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      await clearQueuePrefix(queuePrefix);
      await db.drop();
    }
  });
});
