/** The README is the administrator's manual: every reason code and fix-up name the code can record is in it. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { QUARANTINE_REASONS } from '../src/errors.js';
import { projectPath } from '../src/util/projectPath.js';
import { FIXUPS } from '../src/validate/normaliseReport.js';

const readme = readFileSync(projectPath('README.md'), 'utf8');

it('documents every quarantine reason', () => {
  for (const reason of Object.keys(QUARANTINE_REASONS)) assert.match(readme, new RegExp(`\\| \`${reason}\` \\|`), reason);
});

it('documents every fix-up', () => {
  for (const name of Object.keys(FIXUPS)) assert.match(readme, new RegExp(`\\| \`${name}\` \\|`), name);
});
