import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { describeConfig, loadConfig } from '../../src/config/loadConfig.js';
import { VARIABLES } from '../../src/config/variables.js';
import { projectPath } from '../../src/util/projectPath.js';
import { assertConfigError } from '../helpers/assertConfigError.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.databaseUrl, VARIABLES.DATABASE_URL.default);
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.smtp.port, 2525);
    assert.equal(c.smtp.maxMessageBytes, 10 * 1024 * 1024);
    assert.deepEqual(c.smtp.acceptedRecipients, []);
    assert.equal(c.smtp.tls, null);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.smtp));
  });

  it('reads recipients as addresses and domains, lower-cased', () => {
    const c = loadConfig({ ACCEPTED_RECIPIENTS: 'TLSRPT@Example.com, @reports.example.org reports.example.net' });
    assert.deepEqual(c.smtp.acceptedRecipients, ['tlsrpt@example.com', 'reports.example.org', 'reports.example.net']);
  });

  it('reads sizes with units', () => {
    assert.equal(loadConfig({ MAX_MESSAGE_SIZE: '512KiB' }).smtp.maxMessageBytes, 512 * 1024);
    assert.equal(loadConfig({ REPORT_MAX_BYTES: '2MB' }).worker.reportMaxBytes, 2_000_000);
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ SMTP_PORT: 'abc' }, 'SMTP_PORT', /not a whole number/],
    [{ SMTP_PORT: '70000' }, 'SMTP_PORT', /out of range: use 0 to 65535/],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL', /scheme "mysql:"/],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL', /not a URL/],
    [{ MAX_MESSAGE_SIZE: 'big' }, 'MAX_MESSAGE_SIZE', /not a size/],
    [{ ACCEPTED_RECIPIENTS: 'no-dot' }, 'ACCEPTED_RECIPIENTS', /neither an address/],
    [{ TLS_CERT: '/nonexistent/cert.pem' }, 'TLS_KEY', /set both/],
    [{ TLS_CERT: '/nonexistent/cert.pem', TLS_KEY: '/nonexistent/key.pem' }, 'TLS_CERT', /cannot read/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /not one of/],
    [{ QUEUE_PREFIX: 'a:b' }, 'QUEUE_PREFIX', /only letters/],
  ];
  for (const [env, variable, message] of bad) {
    it(`fails naming ${variable} for ${JSON.stringify(env)}`, () => {
      assertConfigError(() => loadConfig(env), variable, message);
    });
  }

  it('masks passwords when printed', () => {
    const d = describeConfig(loadConfig({ DATABASE_URL: 'postgresql://u:secret@db/x', REDIS_URL: 'redis://:pw@r:6379' }));
    assert.equal(d.DATABASE_URL, 'postgresql://u:***@db/x');
    assert.ok(!JSON.stringify(d).includes('secret'));
    assert.ok(!JSON.stringify(d).includes(':pw@'));
  });

  it('documents every variable it reads in the README configuration table', () => {
    const readme = readFileSync(projectPath('README.md'), 'utf8');
    for (const name of Object.keys(describeConfig(loadConfig({})))) {
      assert.match(readme, new RegExp(`\\| \`${name}\``), `README lacks ${name}`);
    }
  });
});
