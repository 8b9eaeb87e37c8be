/** The pure parts of the metrics: bounded labels and the folding of aggregated rows into totals. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainLabels, policyTypeLabel, quarantineReasonLabel, resultTypeLabel } from '../../src/metrics/metricLabels.js';
import {
  DELAY_BUCKETS_SECONDS,
  addRawRows,
  addReportRows,
  emptyTotals,
  key,
  newestOldEnough,
  rawFoldBoundary,
  withConfiguredDomains,
} from '../../src/metrics/pipelineTotals.js';

describe('label bounds', () => {
  it('keeps registry result types and maps the rest to "other" (quirk 12)', () => {
    assert.equal(resultTypeLabel('certificate-expired'), 'certificate-expired');
    assert.equal(resultTypeLabel('sts-policy-fetch-error'), 'sts-policy-fetch-error');
    assert.equal(resultTypeLabel('dnssec-bogus-new-type'), 'other');
    assert.equal(resultTypeLabel('__proto__'), 'other');
    assert.equal(resultTypeLabel(null), 'other');
  });

  it('keeps the three policy types and known quarantine reasons, "other" for the rest', () => {
    assert.deepEqual(['sts', 'tlsa', 'no-policy-found', 'invalid-policy-type'].map(policyTypeLabel), [
      'sts',
      'tlsa',
      'no-policy-found',
      'other',
    ]);
    assert.equal(quarantineReasonLabel('gzip-corrupt'), 'gzip-corrupt');
    assert.equal(quarantineReasonLabel('something-new'), 'other');
  });

  it('gives configured domains and the first N others a series, then "other"; no domain is "none"', () => {
    const labels = new DomainLabels(['example.com'], 2);
    assert.deepEqual(
      ['a.example', 'EXAMPLE.COM', 'b.example', 'c.example', 'a.example', null].map((d) => labels.label(d)),
      ['a.example', 'example.com', 'b.example', 'other', 'a.example', 'none'],
    );
  });
});

describe('folding rows into totals', () => {
  it('does not fold past the first pending message nor into rows younger than the margin', () => {
    assert.equal(rawFoldBoundary(10, null, 50), 50);
    assert.equal(rawFoldBoundary(10, 31, 50), 30);
    assert.equal(rawFoldBoundary(10, 11, 50), 10);
    assert.equal(rawFoldBoundary(10, null, null), 10, 'nothing old enough');
    assert.equal(rawFoldBoundary(40, 31, 50), 40, 'never backwards');
  });

  it('starts the search for the last old-enough message from the newest id taken before the margin', () => {
    const samples = [
      { at: 1_000, id: 10 },
      { at: 2_000, id: 25 },
      { at: 3_000, id: 40 },
    ];
    const cases: Array<[now: number, marginMs: number, index: number, why: string]> = [
      [2_500, 2_000, -1, 'no sample is that old yet'],
      [3_000, 2_000, 0, 'exactly the margin old'],
      [4_500, 2_000, 1, 'the newest of those old enough'],
      [9_000, 2_000, 2, 'all old enough'],
      [3_000, 0, 2, 'no margin: the newest'],
    ];
    for (const [now, margin, index, why] of cases) assert.equal(newestOldEnough(samples, now, margin), index, why);
    assert.equal(newestOldEnough([], 9_000, 0), -1, 'no samples');
  });

  it('counts messages by channel and outcome, quarantine reasons, and the delay histogram cumulatively', () => {
    const t = emptyTotals();
    const le = (below: number, n: number) => DELAY_BUCKETS_SECONDS.map((b) => (b >= below ? n : 0));
    addRawRows(t, [
      { channel: 'http', status: 'stored', reason: null, n: 3, settled: 3, delay_sum: 1.5, le: le(0.5, 3) },
      { channel: 'http', status: 'quarantined', reason: 'gzip-corrupt', n: 1, settled: 1, delay_sum: 7, le: le(10, 1) },
      { channel: 'smtp', status: 'pending', reason: null, n: 2, settled: 0, delay_sum: 0, le: le(0, 0) },
    ]);
    addRawRows(t, [{ channel: 'http', status: 'stored', reason: null, n: 1, settled: 1, delay_sum: 0.25, le: le(0.5, 1) }]);
    assert.deepEqual(
      [...t.received],
      [
        ['http', 5],
        ['smtp', 2],
      ],
    );
    assert.deepEqual(
      [...t.processed],
      [
        [key('http', 'stored'), 4],
        [key('http', 'quarantined'), 1],
      ],
    );
    assert.deepEqual([...t.quarantined], [['gzip-corrupt', 1]]);
    const d = t.delay.get('http')!;
    assert.equal(d.count, 5);
    assert.equal(d.sum, 8.75);
    assert.equal(d.buckets[0], 4); // le 0.5
    assert.equal(d.buckets[DELAY_BUCKETS_SECONDS.indexOf(10)], 5);
    assert.equal(t.delay.has('smtp'), false, 'pending messages have no delay yet');
  });

  it('labels domains in first-stored order, whatever order the rows come in', () => {
    const t = emptyTotals();
    const labels = new DomainLabels([], 1);
    addReportRows(
      t,
      {
        reports: 2,
        policies: [
          { policy_domain: 'late.example', policy_type: 'sts', first: 9, ok: 5, failed: 1 },
          { policy_domain: 'early.example', policy_type: 'tlsa', first: 3, ok: 2, failed: 0 },
          { policy_domain: null, policy_type: 'no-policy-found', first: 4, ok: 1, failed: 0 },
        ],
        failures: [{ policy_domain: 'late.example', policy_type: 'sts', result_type: 'brand-new-type', first: 9, n: 1 }],
      },
      labels,
    );
    assert.equal(t.reportsStored, 2);
    assert.deepEqual(Object.fromEntries(t.sessions), {
      [key('other', 'sts', 'successful')]: 5,
      [key('other', 'sts', 'failed')]: 1,
      [key('early.example', 'tlsa', 'successful')]: 2,
      [key('early.example', 'tlsa', 'failed')]: 0,
      [key('none', 'no-policy-found', 'successful')]: 1,
      [key('none', 'no-policy-found', 'failed')]: 0,
    });
    assert.deepEqual(Object.fromEntries(t.failedSessions), { [key('other', 'sts', 'other')]: 1 });
  });

  it('adds zero series for configured domains without touching counted ones', () => {
    const t = emptyTotals();
    t.sessions.set(key('example.com', 'sts', 'successful'), 7);
    withConfiguredDomains(t, ['example.com']);
    assert.equal(t.sessions.get(key('example.com', 'sts', 'successful')), 7);
    assert.equal(t.sessions.get(key('example.com', 'tlsa', 'failed')), 0);
    assert.equal(t.sessions.size, 6);
  });
});
