/**
 * Every long-running command as a real process, configured by a YAML file (TLSRPT_CONFIG): SIGHUP makes it
 * read the file again, apply what can change while it runs, log what changed, and keep running. `serve`
 * also carries the acceptance case of the configuration file: 10,000 domains for policy hosting, metrics
 * and accepted recipients, and a start-up log line that stays short.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCertbotDir } from '../helpers/certbotDir.js';
import { makeCertificate, servedCertificate } from '../helpers/certificates.js';
import { createTestCa } from '../helpers/testCa.js';
import { realFixture } from '../helpers/fixtures.js';
import { REDIS_URL } from '../helpers/services.js';
import { smtpSend } from '../helpers/smtpSend.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { freePort, httpGet, starttlsCommonName, startTlsrpt, type TlsrptProcess } from './tlsrptProcess.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-reload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const POLICY = 'version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 604800\n';
const POLICY_PATH = '/.well-known/mta-sts.txt';

function yaml(settings: Record<string, string | string[]>): string {
  return Object.entries(settings)
    .map(([k, v]) => (Array.isArray(v) ? `${k}:\n${v.map((i) => `  - ${i}`).join('\n')}` : `${k}: ${v}`))
    .join('\n');
}

/** Runs `args` against a fresh database with `settings` in a config file; `body` gets the process and the file. */
async function withProcess(
  args: string[],
  settings: Record<string, string | string[]>,
  body: (p: TlsrptProcess, file: string, db: TestDatabase) => Promise<void>,
): Promise<void> {
  const db = await createTestDatabase();
  const file = join(dir, `${args[0]}-${Date.now()}.yaml`);
  writeFileSync(file, yaml(settings));
  const queuePrefix = `test-reload-${args[0]}-${process.pid}`;
  const p = startTlsrpt(args, {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    SHUTDOWN_TIMEOUT_SECONDS: '5',
    TLSRPT_CONFIG: file,
  });
  try {
    await body(p, file, db);
    // Still running after every SIGHUP, and stops cleanly.
    assert.equal(p.child.exitCode, null, p.stderr());
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0, p.stderr());
  } finally {
    await p.kill();
    await clearQueuePrefix(queuePrefix);
    await db.drop();
  }
}

/** Sends SIGHUP and returns the "configuration reloaded" line it produced. */
async function hangUp(p: TlsrptProcess): Promise<Record<string, unknown>> {
  const from = p.lines.length;
  p.child.kill('SIGHUP');
  await p.waitForLog('SIGHUP: re-reading the configuration', from);
  return p.waitForLog((l) => l.msg === 'configuration reloaded' || l.msg?.startsWith('configuration not reloaded') === true, from);
}

describe('SIGHUP reloads the configuration file in every process', () => {
  it('serve: 10,000 domains from the file for policies, metrics and recipients; SIGHUP swaps the hosted policies', async () => {
    const domains = Array.from({ length: 10_000 }, (_, i) => `example-${i + 1}.test`);
    const policyFile = join(dir, 'serve-policy.txt');
    writeFileSync(policyFile, POLICY);
    const smtpPort = await freePort();
    const settings = {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpPort),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      METRICS_PORT: '0',
      MTA_STS_POLICY_FILE: policyFile,
      MTA_STS_DOMAINS: domains,
      METRICS_DOMAINS: domains,
      ACCEPTED_RECIPIENTS: domains.map((d) => `tlsrpt@${d}`),
    };
    await withProcess(['serve'], settings, async (p, file) => {
      const listening = await p.waitForLog('HTTP server listening');
      await p.waitForLog('SMTP receiver listening');
      const port = listening.port as number;

      // The start-up log summarises the lists instead of printing 10,000 entries (230 KB before).
      const starting = p.rawLines.find((l) => l.includes('"msg":"starting"'))!;
      assert.ok(starting.length < 10_000, `the start-up log line is ${starting.length} characters`);
      assert.match(starting, /"MTA_STS_DOMAINS":"10000 entries: example-1\.test, example-2\.test, \.\.\. and 9998 more"/);

      const last = await httpGet(port, 'mta-sts.example-10000.test', POLICY_PATH);
      assert.equal(last.status, 200);
      assert.equal(last.body, POLICY);
      const accepted = await smtpSend(smtpPort, realFixture('mox--example.eml'), { to: ['tlsrpt@example-10000.test'] });
      assert.equal(accepted.code, 250, accepted.response);
      const refused = await smtpSend(smtpPort, realFixture('mox--example.eml'), { to: ['tlsrpt@not-listed.test'] });
      assert.equal(refused.code, 550, refused.response);
      const metrics = await httpGet(port, '127.0.0.1', '/metrics');
      assert.match(metrics.body, /tlsrpt_sessions_total\{policy_domain="example-10000\.test",policy_type="sts",result="failed"\} 0/);
      // METRICS_PORT: the same registry on a second, plain port.
      const monitorPort = (await p.waitForLog('metrics and health checks listening (plain HTTP)')).port as number;
      assert.match(
        (await httpGet(monitorPort, '127.0.0.1', '/metrics')).body,
        /tlsrpt_sessions_total\{policy_domain="example-10000\.test"/,
      );
      assert.equal((await httpGet(monitorPort, '127.0.0.1', '/healthz')).status, 200);

      // Drop the first domain, enforce the policy, and change a variable that needs a restart.
      writeFileSync(policyFile, POLICY.replace('mode: testing', 'mode: enforce'));
      writeFileSync(file, yaml({ ...settings, MTA_STS_DOMAINS: domains.slice(1), SMTP_PORT: String(smtpPort + 1) }));
      const from = p.lines.length;
      const reloaded = await hangUp(p);
      assert.equal(reloaded.msg, 'configuration reloaded');
      assert.deepEqual(Object.keys(reloaded.applied as object), ['MTA_STS_DOMAINS']);
      assert.deepEqual(reloaded.needsRestart, { SMTP_PORT: { from: smtpPort, to: smtpPort + 1 } });
      const policies = await p.waitForLog('MTA-STS policies reloaded', from);
      assert.equal(policies.removed, 'example-1.test');
      assert.equal(policies.hosted, 9999);
      assert.match(String(policies.changed), /^9999 entries: /);
      assert.equal((await httpGet(port, 'mta-sts.example-1.test', POLICY_PATH)).status, 404);
      assert.match((await httpGet(port, 'mta-sts.example-10000.test', POLICY_PATH)).body, /mode: enforce/);
      // The running SMTP port stays until a restart.
      assert.equal((await smtpSend(smtpPort, realFixture('mox--example.eml'), { to: ['tlsrpt@example-2.test'] })).code, 250);
    });
  });

  it('receiver: SIGHUP offers the renewed certificate to new STARTTLS connections', async () => {
    const first = makeCertificate('first.tlsrpt.test');
    const renewed = makeCertificate('renewed.tlsrpt.test');
    const cert = join(dir, 'receiver-cert.pem');
    const key = join(dir, 'receiver-key.pem');
    writeFileSync(cert, first.cert);
    writeFileSync(key, first.key);
    await withProcess(
      ['receiver'],
      // TLS_RELOAD_CHECK_SECONDS=0: only the SIGHUP reads the files, so what it logs is its own.
      { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(await freePort()), TLS_CERT: cert, TLS_KEY: key, TLS_RELOAD_CHECK_SECONDS: '0' },
      async (p) => {
        const port = (await p.waitForLog('SMTP receiver listening')).port as number;
        assert.equal(await starttlsCommonName(port), 'first.tlsrpt.test');

        writeFileSync(key, renewed.key);
        writeFileSync(cert, renewed.cert);
        const from = p.lines.length;
        const reloaded = await hangUp(p);
        assert.deepEqual(reloaded.applied, {});
        await p.waitForLog('STARTTLS certificate reloaded', from);
        assert.equal(await starttlsCommonName(port), 'renewed.tlsrpt.test');

        // A key that does not match the certificate is refused, and the pair in service stays.
        writeFileSync(key, first.key);
        const again = p.lines.length;
        await hangUp(p);
        await p.waitForLog('STARTTLS certificate not reloaded; still offering the previous one', again);
        assert.equal(await starttlsCommonName(port), 'renewed.tlsrpt.test');
      },
    );
  });

  it('worker: SIGHUP applies new alert destinations, and refuses an invalid file while it keeps running', async () => {
    const settings = { ALERT_WEBHOOK_URLS: ['http://127.0.0.1:9/first'] };
    await withProcess(['worker'], settings, async (p, file) => {
      await p.waitForLog('worker consuming the queue');
      writeFileSync(file, yaml({ ALERT_WEBHOOK_URLS: ['http://127.0.0.1:9/first', 'http://127.0.0.1:9/second?token=secret'] }));
      const from = p.lines.length;
      const reloaded = await hangUp(p);
      assert.deepEqual(reloaded.applied, { ALERT_WEBHOOK_URLS: { from: '(secret)', to: '(secret)' } });
      const alerts = await p.waitForLog('alert settings reloaded', from);
      assert.deepEqual(alerts.added, ['http://127.0.0.1:9/second?***']);
      assert.ok(!p.rawLines.some((l) => l.includes('token=secret')), 'a secret reached the log');

      writeFileSync(file, 'ALERT_WEBHOK_URLS: []\n');
      const refused = await hangUp(p);
      assert.match(String(refused.msg), /^configuration not reloaded/);
      assert.match(String(refused.err), /unknown key "ALERT_WEBHOK_URLS" \(did you mean ALERT_WEBHOOK_URLS\?\)/);
    });
  });

  it('http: SIGHUP serves a renewed certificate of MTA_STS_CERT_DIR; METRICS_PORT stays plain HTTP', async () => {
    const ca = createTestCa();
    const certbot = createCertbotDir();
    try {
      certbot.install('mta-sts.example.com', ca.issue(['mta-sts.example.com']));
      certbot.install('mta-sts.example.net', ca.issue(['mta-sts.example.net']));
      certbot.install('mta-sts.example.org', ca.issue(['mta-sts.example.org']));
      const settings = {
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        METRICS_PORT: '0',
        MTA_STS_CERT_DIR: certbot.live,
        TLS_RELOAD_CHECK_SECONDS: '0',
      };
      await withProcess(['http'], settings, async (p) => {
        const port = (await p.waitForLog('HTTPS server listening')).port as number;
        const monitorPort = (await p.waitForLog('metrics and health checks listening (plain HTTP)')).port as number;
        assert.equal((await httpGet(monitorPort, '127.0.0.1', '/healthz')).status, 200);
        assert.equal((await httpGet(monitorPort, '127.0.0.1', '/readyz')).status, 200);
        const before = await servedCertificate(port, { servername: 'mta-sts.example.net', ca: ca.caCert });
        assert.equal(before.authorized, true);

        certbot.install('mta-sts.example.net', ca.issue(['mta-sts.example.net']));
        const from = p.lines.length;
        await hangUp(p);
        const reloaded = await p.waitForLog('MTA_STS_CERT_DIR: certificate reloaded', from);
        assert.equal(reloaded.folder, 'mta-sts.example.net');
        const after = await servedCertificate(port, { servername: 'mta-sts.example.net', ca: ca.caCert });
        assert.equal(after.authorized, true);
        assert.notEqual(after.fingerprint256, before.fingerprint256);
        const metrics = await httpGet(monitorPort, '127.0.0.1', '/metrics');
        assert.match(metrics.body, /tlsrpt_tls_certificate_reloads_total\{use="mta-sts",result="reloaded"\} 1/);
      });
    } finally {
      certbot.cleanup();
      ca.cleanup();
    }
  });

  it('http: SIGHUP serves a policy added to MTA_STS_POLICY_DIR, and keeps the set when one is invalid', async () => {
    const policies = mkdtempSync(join(dir, 'policies-'));
    await withProcess(['http'], { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', MTA_STS_POLICY_DIR: policies }, async (p) => {
      const port = (await p.waitForLog('HTTP server listening')).port as number;
      assert.equal((await httpGet(port, 'mta-sts.example.com', POLICY_PATH)).status, 404);

      writeFileSync(join(policies, 'example.com.txt'), POLICY);
      const from = p.lines.length;
      await hangUp(p);
      const reloaded = await p.waitForLog('MTA-STS policies reloaded', from);
      assert.equal(reloaded.added, 'example.com');
      assert.equal((await httpGet(port, 'mta-sts.example.com', POLICY_PATH)).body, POLICY);

      writeFileSync(join(policies, 'example.org.txt'), 'version: STSv1\nmode: Enforce\n');
      const again = p.lines.length;
      await hangUp(p);
      await p.waitForLog('MTA-STS policies not reloaded; still serving the previous ones', again);
      assert.equal((await httpGet(port, 'mta-sts.example.com', POLICY_PATH)).status, 200);
      assert.equal((await httpGet(port, 'mta-sts.example.org', POLICY_PATH)).status, 404);
    });
  });
});
