/** The pure decisions of retention (src/retention/retentionPlan.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { monthsFrom, monthsToDrop, retentionCutoffs, type MonthPartition } from '../../src/retention/retentionPlan.js';

const NOW = new Date('2026-12-01T10:00:00Z');

function month(parent: string, first: string, next: string): MonthPartition {
  return {
    parent,
    name: `${parent}_${first.slice(0, 7).replace('-', '_')}`,
    from: new Date(`${first}T00:00:00Z`),
    to: new Date(`${next}T00:00:00Z`),
  };
}

describe('retentionCutoffs', () => {
  it('counts whole days back from now; 0 keeps that kind forever', () => {
    assert.deepEqual(retentionCutoffs({ rawDays: 30, quarantineDays: 90, reportDays: 400 }, NOW), {
      raw: new Date('2026-11-01T10:00:00Z'),
      quarantine: new Date('2026-09-02T10:00:00Z'),
      reports: new Date('2025-10-27T10:00:00Z'),
    });
    assert.deepEqual(retentionCutoffs({ rawDays: 0, quarantineDays: 0, reportDays: 0 }, NOW), {
      raw: null,
      quarantine: null,
      reports: null,
    });
  });
});

describe('monthsToDrop', () => {
  const partitions = [
    month('reports', '2025-09-01', '2025-10-01'),
    month('policies', '2025-09-01', '2025-10-01'),
    month('reports', '2025-10-01', '2025-11-01'),
    month('reports', '2025-08-01', '2025-09-01'),
    month('failure_details', '2025-08-01', '2025-09-01'),
  ];

  it('drops only months that ended before the cutoff, grouped by month, oldest first', () => {
    const due = monthsToDrop(partitions, new Date('2025-10-27T10:00:00Z'));
    assert.deepEqual(
      due.map(([m, ps]) => [m, ps.map((p) => p.name)]),
      [
        ['2025-08', ['reports_2025_08', 'failure_details_2025_08']],
        ['2025-09', ['reports_2025_09', 'policies_2025_09']],
      ],
    );
  });

  it('a month ending exactly at the cutoff goes; nothing goes without a cutoff', () => {
    assert.deepEqual(
      monthsToDrop(partitions, new Date('2025-09-01T00:00:00Z')).map(([m]) => m),
      ['2025-08'],
    );
    assert.deepEqual(monthsToDrop(partitions, null), []);
  });
});

describe('monthsFrom', () => {
  it('this month and the ones ahead, across a year end, in UTC', () => {
    assert.deepEqual(monthsFrom(new Date('2026-11-30T23:30:00-05:00'), 2), ['2026-12-01', '2027-01-01', '2027-02-01']);
  });
});
