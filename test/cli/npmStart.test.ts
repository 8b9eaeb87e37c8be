/**
 * The README's run command, `npm start`, exactly as a user types it: it builds what changed, serves, and
 * ends with the service on SIGTERM sent to the npm process (as systemd or a shell's `kill` does). npm
 * forwards SIGTERM to its script's shell, which, without `exec`, died and left node serving.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import pg from 'pg';
import { projectPath } from '../../src/util/projectPath.js';
import { PG_URL_BASE, portAnswers, REDIS_URL, requireServices } from '../helpers/services.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { waitFor } from '../helpers/waitFor.js';
import { freePort } from '../helpers/webhookSink.js';

const SHUTDOWN_TIMEOUT_SECONDS = 30;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('npm start serves, and SIGTERM to npm stops the service: exit 0, ports free, no node left behind', async () => {
  await requireServices();
  const dbName = `tlsrpt_test_npmstart_${process.pid}`;
  const prefix = `test-npmstart-${process.pid}`;
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const npm = spawn('npm', ['start'], {
    cwd: projectPath(),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: `${PG_URL_BASE}/${dbName}`,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      ACCEPTED_RECIPIENTS: 'tlsrpt@reports.example.com',
      SMTP_PORT: String(smtpPort),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
    },
  });
  let out = '';
  npm.stdout.on('data', (c) => (out += c));
  npm.stderr.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => npm.on('close', resolve));
  let servicePid = 0;
  try {
    // The first run in a fresh checkout compiles everything: minutes on a loaded machine.
    await waitFor(
      'npm start to serve SMTP and HTTP',
      // The ports answer before the signal handlers are in place: this line says they are.
      async () => out.includes('"msg":"started: SIGTERM') && (await portAnswers(httpPort)),
      300_000,
    );
    servicePid = Number(/"pid":(\d+)/.exec(out)?.[1]);
    assert.ok(servicePid > 0 && servicePid !== npm.pid, 'the service logs its own pid');

    npm.kill('SIGTERM');
    // stopOnSignals ends the process itself SHUTDOWN_TIMEOUT_SECONDS + 5 after the signal at the latest.
    const code = await Promise.race([
      exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), (SHUTDOWN_TIMEOUT_SECONDS + 10) * 1000).unref()),
    ]);
    assert.equal(code, 0, out);
    assert.match(out, /shutting down/);
    assert.equal(isRunning(servicePid), false, 'node still runs after npm exited');
    assert.equal(await portAnswers(smtpPort), false, 'the SMTP port is still open');
    assert.equal(await portAnswers(httpPort), false, 'the HTTP port is still open');
  } finally {
    npm.kill('SIGKILL');
    if (servicePid && isRunning(servicePid)) process.kill(servicePid, 'SIGKILL');
    const admin = new pg.Client({ connectionString: `${PG_URL_BASE}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`);
    await admin.end();
    await clearQueuePrefix(prefix);
  }
});
