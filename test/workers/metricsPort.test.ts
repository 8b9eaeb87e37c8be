/**
 * METRICS_PORT in the processes without an HTTP server of their own: `tlsrpt worker` and `tlsrpt receiver`
 * serve /metrics, /healthz and /readyz in plain HTTP, so each service of a deployment has something to probe;
 * the receiver's /metrics shows its STARTTLS certificate. Both still stop cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeCertificate } from '../helpers/certificates.js';
import { REDIS_URL } from '../helpers/services.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { createTestDatabase } from '../helpers/testDatabase.js';
import { freePort, httpGet, startTlsrpt } from './tlsrptProcess.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-monitor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function probe(args: string[], env: Record<string, string>, check: (metrics: string) => void): Promise<void> {
  const db = await createTestDatabase();
  const queuePrefix = `test-monitor-${args[0]}-${process.pid}`;
  const p = startTlsrpt(args, {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    SHUTDOWN_TIMEOUT_SECONDS: '5',
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: '0',
    ...env,
  });
  try {
    const port = (await p.waitForLog('metrics and health checks listening (plain HTTP)')).port as number;
    assert.equal((await httpGet(port, '127.0.0.1', '/healthz')).status, 200);
    const ready = await httpGet(port, '127.0.0.1', '/readyz');
    assert.equal(ready.status, 200, ready.body);
    const metrics = await httpGet(port, '127.0.0.1', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^tlsrpt_metrics_source_up\{source="postgres"\} 1$/m);
    check(metrics.body);
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0, p.stderr());
  } finally {
    await p.kill();
    await clearQueuePrefix(queuePrefix);
    await db.drop();
  }
}

describe('METRICS_PORT in every long-running process', () => {
  it('worker: /metrics, /healthz and /readyz in plain HTTP', async () => {
    await probe(['worker'], {}, (metrics) => assert.match(metrics, /^tlsrpt_queue_jobs\{state="waiting"\} \d+$/m));
  });

  it('receiver: the same, with the STARTTLS certificate in the certificate series', async () => {
    const pair = makeCertificate('mx.tlsrpt.test');
    writeFileSync(join(dir, 'cert.pem'), pair.cert);
    writeFileSync(join(dir, 'key.pem'), pair.key);
    const env = {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(await freePort()),
      SMTP_TLS_CERT: join(dir, 'cert.pem'),
      SMTP_TLS_KEY: join(dir, 'key.pem'),
    };
    await probe(['receiver'], env, (metrics) =>
      assert.match(metrics, /^tlsrpt_tls_certificate_expiry_timestamp_seconds\{use="smtp",certificate="[^"]*cert\.pem"\} \d+$/m),
    );
  });
});
