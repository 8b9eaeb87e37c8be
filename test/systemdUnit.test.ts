/**
 * The systemd unit of README "Without containers: systemd", as a reader copies it: systemd's own checker
 * accepts it, and it stops the service the way the service expects (SIGTERM, a stop timeout past the
 * shutdown timeout, no restart loop on a configuration error).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { VARIABLES } from '../src/config/variables.js';
import { EXIT_STATUS } from '../src/errors.js';
import { projectPath } from '../src/util/projectPath.js';

const readme = readFileSync(projectPath('README.md'), 'utf8');
const start = readme.indexOf('# /etc/systemd/system/tlsrpt.service');
const unit = readme.slice(start, readme.indexOf('```', start));
const settings = new Map(
  unit
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);

it('README has the unit, and it stops the service as the service expects', () => {
  assert.ok(start > 0, 'README "Without containers: systemd" shows tlsrpt.service');
  assert.equal(settings.get('KillSignal'), 'SIGTERM');
  assert.ok(Number(settings.get('TimeoutStopSec')) > Number(VARIABLES.SHUTDOWN_TIMEOUT_SECONDS.default) + 5);
  assert.equal(settings.get('RestartPreventExitStatus'), String(EXIT_STATUS.usage));
  assert.equal(settings.get('Restart'), 'on-failure');
  // node runs the service itself: with npm in between, a stop would reach npm, and a start would compile.
  const bin = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { bin: { tlsrpt: string } }).bin.tlsrpt;
  assert.match(settings.get('ExecStart')!, new RegExp(`^/usr/bin/node /opt/tlsrpt/${bin.replaceAll('.', '\\.')} serve$`));
});

const analyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

it('systemd-analyze verify accepts it', { skip: analyze ? false : 'systemd-analyze is not installed (Debian: systemd)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-unit-'));
  try {
    // verify checks that ExecStart's program exists: the node running this test stands in for /usr/bin/node.
    const file = join(dir, 'tlsrpt.service');
    writeFileSync(file, unit.replace('/usr/bin/node ', `${process.execPath} `));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
    // It does find mistakes: a misspelt duration and signal.
    writeFileSync(file, unit.replace('TimeoutStopSec=45', 'TimeoutStopSec=4x5').replace('KillSignal=SIGTERM', 'KillSignal=SIGTREM'));
    const bad = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    assert.match(bad.stderr, /Failed to parse time value/);
    assert.match(bad.stderr, /Failed to parse signal name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
