/**
 * Every family of error codes has one registry in the code, and README, the administrator's manual, lists
 * exactly the registry's codes: none missing (an operator meets a code the manual does not explain) and none
 * extra (the manual explains a code the program never gives).
 *
 * A family's codes are read from one column of the tables of one README section (the heading up to the next
 * heading of the same or a higher level): every `kebab-case` word in backquotes in that column.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DELIVERY_ERRORS } from '../../src/alert/deliver/deliveryError.js';
import { QUARANTINE_REASONS, USAGE_ERRORS } from '../../src/errors.js';
import { CHECKS } from '../../src/policy/check/checkFinding.js';
import type { PolicyFetchFailure } from '../../src/policy/check/fetchPolicy.js';
import { POLICY_PROBLEMS, type PolicyProblemCode } from '../../src/policy/syntax/problem.js';
import { REFUSALS } from '../../src/http/httpReplies.js';
import { USER_ERRORS } from '../../src/users/userStore.js';
import { projectPath } from '../../src/util/projectPath.js';

// The fetch's failure codes are problem codes too: this line stops compiling if one is not in the registry.
const fetchFailuresAreProblems: (f: PolicyFetchFailure) => PolicyProblemCode = (f) => f;

const FAMILIES: Array<{ family: string; registry: string; codes: object; section: string; column: string }> = [
  {
    family: 'quarantine reasons',
    registry: 'QUARANTINE_REASONS',
    codes: QUARANTINE_REASONS,
    section: '## Quarantine reasons',
    column: 'reason',
  },
  { family: 'HTTP refusals', registry: 'REFUSALS', codes: REFUSALS, section: '### What a sender gets back', column: 'body `error`' },
  { family: 'user errors', registry: 'USER_ERRORS', codes: USER_ERRORS, section: '### Users and access', column: 'code' },
  { family: 'alert delivery errors', registry: 'DELIVERY_ERRORS', codes: DELIVERY_ERRORS, section: '### Delivery', column: 'code' },
  {
    family: 'policy problems',
    registry: 'POLICY_PROBLEMS',
    codes: POLICY_PROBLEMS,
    section: '## MTA-STS: generate, host and check policies',
    column: 'Code',
  },
  { family: 'check findings', registry: 'CHECKS', codes: CHECKS, section: '### `tlsrpt check DOMAIN`', column: 'Check' },
  {
    family: 'command-line usage',
    registry: 'USAGE_ERRORS',
    codes: USAGE_ERRORS,
    section: '### Exit status and usage errors',
    column: 'code',
  },
];

const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const readme = readFileSync(projectPath('README.md'), 'utf8').split('\n');

/** The lines of the section under `heading`, fenced code blocks left out (a "# comment" there is no heading). */
function section(heading: string): string[] {
  const level = heading.indexOf(' ');
  const lines: string[] = [];
  let inside = false;
  let fenced = false;
  for (const line of readme) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    const m = /^(#+) /.exec(line);
    if (m) {
      if (inside && m[1]!.length <= level) break;
      if (line === heading) inside = true;
    }
    if (inside) lines.push(line);
  }
  assert.ok(lines.length, `README has no section "${heading}"`);
  return lines;
}

/** Splits a table row into cells; "\|" inside a cell is not a separator. */
function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** The codes in `column` of every table of the section whose header has that column. */
function codesIn(lines: string[], column: string): Set<string> {
  const codes = new Set<string>();
  for (let i = 0; i < lines.length - 1; i++) {
    if (!lines[i]!.startsWith('|') || !/^\|[\s:|-]+\|$/.test(lines[i + 1]!.trim())) continue;
    const at = cells(lines[i]!).indexOf(column);
    if (at < 0) continue;
    for (let j = i + 2; j < lines.length && lines[j]!.startsWith('|'); j++) {
      for (const m of (cells(lines[j]!)[at] ?? '').matchAll(/`([^`]+)`/g)) if (KEBAB.test(m[1]!)) codes.add(m[1]!);
    }
  }
  return codes;
}

describe('README lists exactly the codes of each registry', () => {
  for (const f of FAMILIES) {
    it(`${f.family} (${f.registry}), in README "${f.section.replace(/^#+ /, '')}"`, () => {
      const documented = codesIn(section(f.section), f.column);
      const registered = new Set(Object.keys(f.codes));
      const missing = [...registered].filter((c) => !documented.has(c));
      const extra = [...documented].filter((c) => !registered.has(c));
      assert.deepEqual(missing, [], `README lacks these ${f.registry} codes`);
      assert.deepEqual(extra, [], `README lists codes that ${f.registry} does not have`);
    });
  }

  it('every code is kebab-case', () => {
    for (const f of FAMILIES) for (const code of Object.keys(f.codes)) assert.match(code, KEBAB, `${f.registry}: ${code}`);
  });

  it('the fetch failures are policy problems', () => {
    assert.equal(fetchFailuresAreProblems('policy-redirect'), 'policy-redirect');
  });
});

describe('README states the exit-status policy', () => {
  it('0, 1 and 2, each with its meaning', () => {
    const text = section('### Exit status and usage errors').join('\n');
    assert.match(text, /\*\*0\*\*: the command did what was asked/);
    assert.match(text, /\*\*1\*\*: it found something wrong/);
    assert.match(text, /\*\*2\*\*: it did not run, because the command line or the configuration is wrong/);
  });
});
