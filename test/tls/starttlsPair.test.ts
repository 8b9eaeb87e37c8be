/**
 * Certificates per use: STARTTLS offers SMTP_TLS_CERT while HTTPS serves HTTP_TLS_CERT (or the shared
 * TLS_CERT), setting only the STARTTLS pair leaves HTTP plain, and a renewed STARTTLS pair is offered to new
 * sessions once the change check reads it, while a mismatched one is refused and logged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startReceiverService, type ReceiverService } from '../../src/services/receiverService.js';
import { makeCertificate, servedCommonName, type CertificatePair } from '../helpers/certificates.js';
import { captureLog } from '../helpers/captureLog.js';
import { realFixture } from '../helpers/fixtures.js';
import { postReport, startHttpHarness } from '../helpers/httpHarness.js';
import { clearQueuePrefix, testConfig } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';
import { starttlsCommonName } from '../workers/tlsrptProcess.js';

describe('a certificate pair per use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-pairs-'));
  const paths = (name: string) => ({ cert: join(dir, `${name}-cert.pem`), key: join(dir, `${name}-key.pem`) });
  // Each file replaced whole, by a rename, as renewal tools do: the receivers' periodic check (every 50 ms
  // here) could otherwise read one half written, and refuse it as invalid rather than for the reason tested.
  const replace = (path: string, contents: string | Buffer) => {
    writeFileSync(`${path}.new`, contents);
    renameSync(`${path}.new`, path);
  };
  const install = (name: string, pair: CertificatePair) => {
    replace(paths(name).key, pair.key);
    replace(paths(name).cert, pair.cert);
  };
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
    install('shared', makeCertificate('shared.tlsrpt.test'));
    install('smtp', makeCertificate('mx.tlsrpt.test'));
    install('web', makeCertificate('reports.tlsrpt.test'));
  });
  after(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (names: { shared?: boolean; smtp?: boolean; web?: boolean }) => ({
    ...(names.shared ? { TLS_CERT: paths('shared').cert, TLS_KEY: paths('shared').key } : {}),
    ...(names.smtp ? { SMTP_TLS_CERT: paths('smtp').cert, SMTP_TLS_KEY: paths('smtp').key } : {}),
    ...(names.web ? { HTTP_TLS_CERT: paths('web').cert, HTTP_TLS_KEY: paths('web').key } : {}),
  });

  for (const [label, names, https] of [
    ['its own pair', { shared: true, smtp: true, web: true }, 'reports.tlsrpt.test'],
    ['the shared TLS_CERT', { shared: true, smtp: true }, 'shared.tlsrpt.test'],
  ] as const) {
    it(`offers the SMTP pair after STARTTLS while HTTPS serves ${label}`, async () => {
      const config = testConfig(db.url, env(names));
      const receiver = await startReceiverService(config, captureLog().log);
      const h = await startHttpHarness(env(names), { worker: false, db });
      try {
        assert.equal(await starttlsCommonName(receiver.port), 'mx.tlsrpt.test');
        assert.equal(await servedCommonName(h.http.port), https);
      } finally {
        await h.close();
        await receiver.stop();
        await clearQueuePrefix(config.queuePrefix);
      }
    });
  }

  it('leaves HTTP plain when only the STARTTLS pair is set', async () => {
    const h = await startHttpHarness(env({ smtp: true }), { worker: false, db });
    try {
      assert.equal(h.config.http.tls, false);
      assert.ok(h.url().startsWith('http://'));
      const res = await postReport(h.url(), realFixture('dmarc-report-viewer--google.json'), { 'content-type': 'application/tlsrpt+json' });
      assert.equal(res.status, 200);
    } finally {
      await h.close();
    }
  });

  describe('renewal of the STARTTLS pair', () => {
    let receiver: ReceiverService;
    let queuePrefix: string;
    const logged = captureLog();

    before(async () => {
      install('renew', makeCertificate('first.tlsrpt.test'));
      const config = testConfig(db.url, { SMTP_TLS_CERT: paths('renew').cert, SMTP_TLS_KEY: paths('renew').key });
      queuePrefix = config.queuePrefix;
      receiver = await startReceiverService(config, logged.log, { tlsWatchIntervalMs: 50 });
    });
    after(async () => {
      await receiver?.stop();
      await clearQueuePrefix(queuePrefix);
    });

    it('offers the renewed pair to new sessions once the change check reads it', async () => {
      assert.equal(await starttlsCommonName(receiver.port), 'first.tlsrpt.test');
      install('renew', makeCertificate('renewed.tlsrpt.test'));
      await waitFor('the renewed pair after STARTTLS', async () => (await starttlsCommonName(receiver.port)) === 'renewed.tlsrpt.test');
      assert.ok(logged.lines.some((l) => l.msg === 'STARTTLS certificate reloaded'));
    });

    it('keeps offering the pair in service when the new key does not match, and says why', async () => {
      replace(paths('renew').key, makeCertificate('other.tlsrpt.test').key);
      const refused = await waitFor('the refusal to be logged', async () =>
        logged.lines.find((l) => l.msg === 'STARTTLS certificate not reloaded; still offering the previous one'),
      );
      assert.equal(refused.reason, 'key-mismatch');
      assert.equal(await starttlsCommonName(receiver.port), 'renewed.tlsrpt.test');
      // A SIGHUP reads the files again and says so again, even though the periodic check already did.
      await receiver.reload(testConfig(db.url));
      const refusals = logged.lines.filter((l) => l.msg === 'STARTTLS certificate not reloaded; still offering the previous one');
      assert.ok(refusals.length >= 2);
      const [source] = receiver.certificates;
      assert.equal(source?.reloads.reloaded, 1);
      assert.ok((source?.reloads.failed ?? 0) >= 1);
    });
  });
});
