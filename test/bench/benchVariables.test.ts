/** Every BENCH_* variable the bench reads has its row in the README's bench variables table ("Benchmarks"). */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { projectPath } from '../../src/util/projectPath.js';

it('documents every BENCH_* variable in the bench variables table', () => {
  const dir = projectPath('bench');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.ts'));
  const names = new Set(files.flatMap((e) => readFileSync(join(e.parentPath, e.name), 'utf8').match(/\bBENCH_[A-Z0-9_]+/g) ?? []));
  const readme = readFileSync(projectPath('README.md'), 'utf8');
  const rows = readme.split('\n').filter((line) => line.startsWith('| `BENCH_'));
  assert.ok(names.size > 10, `found ${names.size} variables`);
  for (const name of names)
    assert.ok(
      rows.some((row) => row.split('|')[1]!.includes(`\`${name}\``)),
      `README row for ${name}`,
    );
});
