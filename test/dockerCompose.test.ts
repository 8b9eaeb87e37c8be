import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { projectPath } from '../src/util/projectPath.js';

function composeCommand(): string[] | null {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return null;
}

const compose = composeCommand();

it(
  'docker-compose.yml passes `docker compose config`',
  { skip: compose ? false : 'neither docker compose nor docker-compose is installed' },
  () => {
    const [cmd, ...args] = compose!;
    const out = execFileSync(cmd!, [...args, '-f', projectPath('docker-compose.yml'), 'config'], { encoding: 'utf8' });
    for (const service of ['postgres:', 'redis:', 'receiver:', 'worker:']) assert.match(out, new RegExp(`^  ${service}`, 'm'));
    assert.match(out, /appendonly/);
  },
);
