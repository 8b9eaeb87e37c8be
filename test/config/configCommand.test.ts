/**
 * The command line's view of the table: `tlsrpt config` with a configuration file, and the environment part
 * of each command's --help, which lists exactly what that command reads (serve and worker listed the wrong
 * variables when the list was written by hand).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { variablesReadBy } from '../../src/config/environmentHelp.js';
import { runCli } from '../helpers/runCli.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-config-command-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tlsrpt config', () => {
  it('prints the file, its values under the environment, secrets masked and long lists summarised', async () => {
    const file = join(dir, 'config.yaml');
    const domains = Array.from({ length: 10_000 }, (_, i) => `  - example-${i + 1}.test`);
    writeFileSync(
      file,
      ['SMTP_PORT: 2526', 'DATABASE_URL: postgresql://tlsrpt:s3cret@db.example.com/tlsrpt', 'METRICS_DOMAINS:', ...domains].join('\n'),
    );
    const r = await runCli(['config'], { TLSRPT_CONFIG: file, HTTP_PORT: '8081' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^TLSRPT_CONFIG +${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(r.stdout, /^SMTP_PORT +2526$/m);
    assert.match(r.stdout, /^HTTP_PORT +8081$/m);
    assert.match(r.stdout, /^METRICS_DOMAINS +10000 entries: example-1\.test, example-2\.test, \.\.\. and 9998 more$/m);
    assert.ok(!r.stdout.includes('s3cret'), r.stdout);
    assert.ok(r.stdout.length < 8000, `${r.stdout.length} characters`);
  });

  it('fails with status 2 naming the key and the line of a mistake in the file', async () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'SMTP_PORT: 25\nACCEPTED_RECIPIENT: tlsrpt@example.com\n');
    const r = await runCli(['config'], { TLSRPT_CONFIG: file });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /typo\.yaml:2: unknown key "ACCEPTED_RECIPIENT" \(did you mean ACCEPTED_RECIPIENTS\?\)/);
  });
});

describe('--help lists the variables each command reads', () => {
  for (const command of ['serve', 'receiver', 'worker', 'http', 'migrate'] as const) {
    it(command, async () => {
      const r = await runCli([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      const environment = r.stdout.slice(r.stdout.indexOf('\nEnvironment'));
      const listed = [...environment.matchAll(/^ {2}([A-Z][A-Z0-9_]+) {2,}/gm)].map((m) => m[1]);
      assert.deepEqual(listed, variablesReadBy(command));
    });
  }
});
