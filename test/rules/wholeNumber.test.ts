import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWholeNumber } from '../../src/rules/wholeNumber.js';

const CASES: Array<[string, number | null]> = [
  ['0', 0],
  ['7', 7],
  ['0042', 42],
  ['100', 100],
  ['101', null],
  ['-1', null],
  ['1.0', null],
  ['1e2', null],
  ['0x10', null],
  [' 5', null],
  ['', null],
  ['99999999999999999999', null],
];

for (const [text, expected] of CASES) {
  test(`whole number rule: ${JSON.stringify(text)} in 0..100`, () => {
    const r = parseWholeNumber(text, 0, 100);
    assert.deepEqual(r.ok ? r.value : null, expected);
    if (!r.ok) assert.ok(r.problem.includes(text.trim() || '""'));
  });
}
