/** The order `npm test` runs the files in (test/runTests.ts): every file once, the slowest listed first. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { projectPath } from '../src/util/projectPath.js';
import { SLOWEST_FIRST, testFilesInOrder } from './runTests.js';

it('runs every test file once, the slowest listed first, each of them a file that exists', () => {
  for (const f of SLOWEST_FIRST) assert.ok(existsSync(projectPath(f)), `${f} is listed in SLOWEST_FIRST but does not exist`);
  const files = testFilesInOrder();
  assert.equal(new Set(files).size, files.length);
  assert.deepEqual(files.slice(0, SLOWEST_FIRST.length), SLOWEST_FIRST);
  assert.ok(files.includes('test/testOrder.test.ts'));
});
