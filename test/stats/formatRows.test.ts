import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPercent, formatRows, type Column } from '../../src/stats/formatRows.js';

const COLUMNS: Column[] = [
  { name: 'policy_domain', kind: 'text' },
  { name: 'failed_sessions', kind: 'count' },
  { name: 'failure_rate', kind: 'rate' },
  { name: 'ready', kind: 'flag' },
  { name: 'note', kind: 'text' },
];
const ROWS = [
  { policy_domain: 'example.com', failed_sessions: 1400, failure_rate: 0.090909, ready: false, note: 'a, "quoted"\nnote' },
  { policy_domain: 'a.example', failed_sessions: 0, failure_rate: null, ready: true, note: null },
];

describe('formatRows', () => {
  it('aligns a table: text left, numbers right, rates as percentages, missing values as "-"', () => {
    assert.equal(
      formatRows(
        COLUMNS,
        ROWS.map((r) => ({ ...r, note: r.note && 'x' })),
        'table',
      ),
      'policy_domain  failed_sessions  failure_rate  ready  note\n' +
        'example.com               1400        9.091%  no     x\n' +
        'a.example                    0             -  yes    -\n',
    );
  });

  it('writes RFC 4180 CSV with quoted fields and empty nulls', () => {
    assert.equal(
      formatRows(COLUMNS, ROWS, 'csv'),
      'policy_domain,failed_sessions,failure_rate,ready,note\r\n' +
        'example.com,1400,0.090909,false,"a, ""quoted""\nnote"\r\n' +
        'a.example,0,,true,\r\n',
    );
  });

  it('writes JSON with only the listed columns, nulls kept', () => {
    assert.deepEqual(JSON.parse(formatRows(COLUMNS.slice(0, 3), [{ ...ROWS[1], extra: 1 }], 'json')), [
      { policy_domain: 'a.example', failed_sessions: 0, failure_rate: null },
    ]);
  });

  it('shows rates to three decimals of a percent', () => {
    assert.deepEqual([formatPercent(0.001), formatPercent(0.000053), formatPercent(1), formatPercent(0)], ['0.1%', '0.005%', '100%', '0%']);
  });
});
