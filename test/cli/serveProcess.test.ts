/**
 * `tlsrpt serve` as a real process: migrates a new database, takes a report over SMTP into Postgres,
 * and exits cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { it } from 'node:test';
import pg from 'pg';
import { projectPath } from '../../src/util/projectPath.js';
import { realFixture } from '../helpers/fixtures.js';
import { PG_URL_BASE, REDIS_URL, requireServices } from '../helpers/services.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { waitFor } from '../helpers/waitFor.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

it('serve: creates and migrates its database, stores a report, stops on SIGTERM with exit code 0', async () => {
  await requireServices();
  const dbName = `tlsrpt_test_serve_${process.pid}`;
  const databaseUrl = `${PG_URL_BASE}/${dbName}`;
  const prefix = `test-serve-${process.pid}`;
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', projectPath('src', 'cli', 'main.ts'), 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      ACCEPTED_RECIPIENTS: 'tlsrpt@reports.example.com',
      LOG_LEVEL: 'info',
    },
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await waitFor('the receiver to listen', async () => out.includes('SMTP receiver listening'), 30_000);
    assert.match(out, /created database/);
    assert.match(out, /applied migration 0001_create_core_tables/);

    const sent = await smtpSend(port, realFixture('mox--example.eml'));
    assert.equal(sent.code, 250, sent.response);
    await client.connect();
    const row = await waitFor('the report in Postgres', async () => {
      const r = await client.query(`SELECT status, report_id FROM raw_messages WHERE id = $1`, [queuedId(sent.response)]);
      return r.rows[0]?.status === 'stored' ? r.rows[0] : null;
    });
    assert.ok(row.report_id > 0);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /shutting down/);
  } finally {
    child.kill('SIGKILL');
    await client.end(); // never rejects, connected or not
    const admin = new pg.Client({ connectionString: `${PG_URL_BASE}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await clearQueuePrefix(prefix);
  }
});

it('a bad variable stops the process at start, naming it', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', projectPath('src', 'cli', 'main.ts'), 'serve'], {
    env: { PATH: process.env.PATH ?? '', SMTP_PORT: 'twenty-five' },
  });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 2);
  assert.match(err, /configuration error: SMTP_PORT: "twenty-five" is not a whole number/);
});
