/**
 * README "Configuration" lists exactly the variables of the table (src/config/variables.ts), each under the
 * heading of its section and with the same default, so the manual cannot drift from the loader.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SECTIONS, VARIABLES, VARIABLE_NAMES, type Variable } from '../../src/config/variables.js';
import { projectPath } from '../../src/util/projectPath.js';

// Markdown would swallow "<domain>" as an HTML tag, so the README writes it escaped.
const readme = readFileSync(projectPath('README.md'), 'utf8').replaceAll('&lt;', '<').replaceAll('&gt;', '>');

/** The default column as the README writes it: the value in backticks, or what unset means in italics. */
function defaultCell(v: Variable): string {
  return v.default !== null ? `\`${v.default}\`` : `*(${v.unset})*`;
}

/** { heading, name, default } for every variable row of the "## Configuration" section. */
function configurationRows(): Array<{ heading: string; name: string; defaultCell: string }> {
  const start = readme.indexOf('\n## Configuration\n');
  assert.ok(start >= 0, 'README has no "## Configuration" section');
  const end = readme.indexOf('\n## ', start + 1);
  const rows: Array<{ heading: string; name: string; defaultCell: string }> = [];
  let heading = '';
  for (const line of readme.slice(start, end).split('\n')) {
    if (line.startsWith('### ')) heading = line.slice(4).trim();
    const m = /^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \| /.exec(line);
    if (m) rows.push({ heading, name: m[1]!, defaultCell: m[2]! });
  }
  return rows;
}

describe('README "Configuration"', () => {
  const rows = configurationRows();

  it('lists every variable of the table once, under its section, with its default', () => {
    for (const name of VARIABLE_NAMES) {
      const v = VARIABLES[name];
      const found = rows.filter((r) => r.name === name);
      assert.equal(found.length, 1, `README "Configuration" should list ${name} once (found ${found.length})`);
      assert.equal(found[0]!.heading, SECTIONS[v.section], `${name} belongs under "### ${SECTIONS[v.section]}"`);
      assert.equal(found[0]!.defaultCell, defaultCell(v), `${name}: README default differs from src/config/variables.ts`);
    }
  });

  it('lists no variable the table does not have', () => {
    const unknown = rows.filter((r) => !Object.hasOwn(VARIABLES, r.name)).map((r) => r.name);
    assert.deepEqual(unknown, [], 'README "Configuration" lists variables that src/config/variables.ts does not declare');
  });
});
