/**
 * The certbot folder's index without a server: which certificate a name gets (exact, wildcard one label
 * deep, the later-expiring of two), what is skipped and why, and a folder that disappears.
 */
import assert from 'node:assert/strict';
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateDir, type CertificateDir } from '../../src/tls/certificateDir.js';
import { captureLog } from '../helpers/captureLog.js';
import { createCertbotDir, type CertbotDir } from '../helpers/certbotDir.js';
import { makeCertificate, type CertificatePair } from '../helpers/certificates.js';

/** A self-signed EC certificate for `names`, valid `days` days. */
function certificate(names: string[], days: number): CertificatePair {
  return makeCertificate(names[0]!, { altNames: names, days, key: 'ec' });
}

describe('MTA_STS_CERT_DIR index', () => {
  let certbot: CertbotDir;
  let dir: CertificateDir;
  const logged = captureLog();
  const days = (name: string) => Math.round((dir.lookup(name)!.notAfter * 1000 - Date.now()) / 86_400_000);

  before(async () => {
    certbot = createCertbotDir();
    certbot.install('mta-sts.example.com', certificate(['mta-sts.example.com'], 30));
    certbot.install('mta-sts.example.com-0001', certificate(['mta-sts.example.com'], 90));
    certbot.install('example.org', certificate(['*.example.org'], 60));
    certbot.install('cn-only', makeCertificate('mta-sts.cn-only.test'));
    symlinkSync(join(certbot.live, 'gone'), join(certbot.live, 'dangling'));
    dir = createCertificateDir(certbot.live, logged.log);
    await dir.check('signal');
  });
  after(() => certbot?.cleanup());

  it('serves the certificate that lasts longer when two cover one name', () => {
    assert.equal(days('mta-sts.example.com'), 90);
  });

  it('matches a wildcard one label deep only, in any letter case, with or without the final dot', () => {
    assert.equal(days('mta-sts.example.org'), 60);
    assert.equal(days('MTA-STS.Example.Org.'), 60);
    assert.equal(dir.lookup('a.b.example.org'), null);
    assert.equal(dir.lookup('example.org'), null);
    assert.equal(dir.lookup('mta-sts.example.net'), null);
  });

  it('skips a certificate without DNS names, and passes over a dangling symlink and the README', () => {
    assert.equal(dir.size(), 3);
    const skipped = logged.lines.filter((l) => l.msg === 'MTA_STS_CERT_DIR: sub-folder skipped');
    assert.deepEqual(
      skipped.map((l) => [l.folder, l.reason]),
      [['cn-only', 'no-dns-name']],
    );
  });

  it('keeps what it serves when the folder itself cannot be read, and says so', async () => {
    const moved = `${certbot.live}.moved`;
    renameSync(certbot.live, moved);
    try {
      assert.equal(await dir.check('poll'), 'failed');
      assert.equal(dir.size(), 3);
      assert.ok(
        logged.lines.some(
          (l) => l.msg === 'MTA_STS_CERT_DIR: certificate not reloaded; still serving the previous one' && l.folder === '.',
        ),
      );
    } finally {
      renameSync(moved, certbot.live);
    }
    // Back: nothing reloaded ('failed' only for cn-only, still broken).
    assert.equal(await dir.check('poll'), 'failed');
    assert.equal(dir.size(), 3);
    assert.equal(days('mta-sts.example.com'), 90);
  });
});
