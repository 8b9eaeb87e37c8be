/**
 * GET /metrics after every real sample body has been POSTed and processed: the per-domain numbers are the
 * sums of the reports' own numbers, worked out by hand from the JSON (test/fixtures/real/PROVENANCE.md).
 * Also: the totals are the same whether the rollup job has folded the rows or not (and a scrape then reads
 * the running totals, not the rows), and the domain cap keeps the sums.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { foldMessageTotals } from '../../src/metrics/messageTotals.js';
import { createPipelineTally, type PipelineSnapshot } from '../../src/metrics/pipelineTotals.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { realFixture, realFixtureNames } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/waitFor.js';
import { postReport, startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';

/** Parses a Prometheus text exposition into series -> value. */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const sessions = (domain: string, type: string, result: string) =>
  `tlsrpt_sessions_total{policy_domain="${domain}",policy_type="${type}",result="${result}"}`;
const failed = (domain: string, type: string, resultType: string) =>
  `tlsrpt_failed_sessions_total{policy_domain="${domain}",policy_type="${type}",result_type="${resultType}"}`;

// Per policy domain: [policy type, successful, failed] summed over the distinct reports in the sample set.
// The three copies of the RFC example (Company-X 5065427c...) are one report; rpt03 is quarantined.
const SESSIONS: Array<[string, string, number, number]> = [
  // mail.ru 0/1, parsedmarc smtp_tls 0/3, stalwart rpt02 23/1, digest google_1 1/0, digest microsoft 2/0
  ['example.com', 'sts', 26, 5],
  ['example.com', 'tlsa', 0, 0], // configured: present at zero
  ['example.com', 'no-policy-found', 0, 0],
  // two Microsoft sts-policy-fetch-error reports of 3 failed sessions each (ids 1234567890+ and 133944884956529435+)
  ['xxxxxxxx.xx', 'sts', 0, 6],
  ['company-y.example', 'sts', 5326, 303],
  ['test.xmox.nl', 'sts', 5, 0], // mox Google 3, mox Microsoft 2
  ['random.net', 'sts', 2, 0],
  ['random.net', 'tlsa', 2, 0], // the same two sessions again under tlsa (quirk 5)
  ['foo-bar.io', 'sts', 1, 0],
  ['foo-bar.io', 'no-policy-found', 1, 0],
  ['domain.de', 'no-policy-found', 2, 0],
  ['server.com', 'sts', 1, 0],
  ['maxchernoff.ca', 'sts', 3, 0],
  ['hin.ch', 'sts', 1, 0],
  ['redacted.example.com', 'no-policy-found', 1, 0],
  ['cardinalhealth.ca', 'no-policy-found', 48, 0],
  ['none', 'no-policy-found', 1, 0], // sys4: no policy-domain at all (quirk 8)
  ['quiet.example', 'sts', 0, 0], // configured, never reported
];

const FAILED: Array<[string, string, string, number]> = [
  ['example.com', 'sts', 'sts-policy-fetch-error', 2], // mail.ru: two details of 1 (its summary says 1, quirk 4)
  ['example.com', 'sts', 'validation-failure', 3], // parsedmarc smtp_tls: 2 + 1
  ['example.com', 'sts', 'certificate-host-mismatch', 1], // stalwart rpt02
  ['xxxxxxxx.xx', 'sts', 'sts-policy-fetch-error', 6],
  ['company-y.example', 'sts', 'certificate-expired', 100],
  ['company-y.example', 'sts', 'starttls-not-supported', 200],
  ['company-y.example', 'sts', 'validation-failure', 3],
];

const TOTAL_SUCCESSFUL = 5420;
const TOTAL_FAILED = 314;

describe('/metrics after the real samples arrive over HTTP', () => {
  let h: HttpHarness;
  let m: Map<string, number>;
  const bodies = realFixtureNames((f) => f.endsWith('.json') || f.endsWith('.json.gz'));

  before(async () => {
    h = await startHttpHarness({ METRICS_DOMAINS: 'example.com, quiet.example', HTTP_RATE_LIMIT_PER_MINUTE: '0' });
    const ids: number[] = [];
    for (const f of bodies) {
      const type = f.endsWith('.gz') ? 'application/tlsrpt+gzip' : 'application/tlsrpt+json';
      const res = await postReport(h.url(), realFixture(f), { 'content-type': type });
      assert.equal(res.status, 200, `${f}: ${JSON.stringify(res.body)}`);
      ids.push(res.body.id!);
    }
    for (const id of ids) await h.settled(id);
    const res = await fetch(h.url('/metrics'));
    assert.equal(res.status, 200);
    m = parseExposition(await res.text());
  });
  after(() => h?.close());

  it('posted the 23 sample bodies (17 JSON, 6 gzip)', () => {
    assert.equal(bodies.length, 23);
  });

  it('counts messages by channel and outcome', () => {
    assert.equal(m.get('tlsrpt_messages_received_total{channel="http"}'), 23);
    assert.equal(m.get('tlsrpt_messages_received_total{channel="smtp"}'), 0);
    assert.equal(m.get('tlsrpt_messages_processed_total{channel="http",outcome="stored"}'), 20);
    // The second and third copies of the RFC example: conflicts (their bytes differ), or duplicates.
    const again =
      m.get('tlsrpt_messages_processed_total{channel="http",outcome="conflict"}')! +
      m.get('tlsrpt_messages_processed_total{channel="http",outcome="duplicate"}')!;
    assert.equal(again, 2);
    assert.equal(m.get('tlsrpt_messages_processed_total{channel="http",outcome="quarantined"}'), 1);
    assert.equal(m.get('tlsrpt_messages_quarantined_total{reason="schema-violation"}'), 1);
    assert.equal(m.get('tlsrpt_messages_quarantined_total{reason="gzip-corrupt"}'), 0);
    assert.equal(m.get('tlsrpt_messages_pending{channel="http"}'), 0);
    assert.equal(m.get('tlsrpt_oldest_pending_message_age_seconds'), 0);
    assert.equal(m.get('tlsrpt_reports_stored_total'), 20);
  });

  it('shows the sessions of each policy domain, by policy type and result', () => {
    for (const [domain, type, ok, bad] of SESSIONS) {
      assert.equal(m.get(sessions(domain, type, 'successful')), ok, `${domain} ${type} successful`);
      assert.equal(m.get(sessions(domain, type, 'failed')), bad, `${domain} ${type} failed`);
    }
    const series = [...m.keys()].filter((k) => k.startsWith('tlsrpt_sessions_total{'));
    assert.equal(series.length, SESSIONS.length * 2 + 4, 'quiet.example also has tlsa and no-policy-found zeros');
  });

  it('shows the failed sessions of each policy domain by result type', () => {
    const series = [...m].filter(([k]) => k.startsWith('tlsrpt_failed_sessions_total{'));
    assert.deepEqual(
      series.sort((a, b) => a[0].localeCompare(b[0])),
      FAILED.map(([d, t, r, n]) => [failed(d, t, r), n] as [string, number]).sort((a, b) => a[0].localeCompare(b[0])),
    );
  });

  it('exposes the processing delay histogram, the queue depth and the sources as up', () => {
    assert.equal(m.get('tlsrpt_message_processing_seconds_count{channel="http"}'), 23);
    assert.equal(m.get('tlsrpt_message_processing_seconds_bucket{channel="http",le="+Inf"}'), 23);
    assert.equal(m.get('tlsrpt_queue_jobs{state="waiting"}'), 0);
    assert.equal(m.get('tlsrpt_metrics_source_up{source="postgres"}'), 1);
    assert.equal(m.get('tlsrpt_metrics_source_up{source="redis"}'), 1);
    assert.equal(m.get('tlsrpt_http_requests_total{route="/tlsrpt",method="POST",status="200"}'), 23);
    assert.ok(m.has('process_resident_memory_bytes'));
  });

  /**
   * Folds the queued reports and the settled messages, as the worker's rollup job does (the harness's worker
   * runs one too: a fold that finds it holding the lock tries again).
   */
  async function foldEverything(): Promise<void> {
    await waitFor('the rollups and message totals to be folded', async () => {
      const reports = await foldRollups(h.db.pool);
      const messages = await foldMessageTotals(h.db.pool, 0);
      const queued = await h.db.pool.query(`SELECT count(*)::int AS n FROM rollup_queue`);
      return !reports.busy && messages !== null && queued.rows[0].n === 0;
    });
  }

  it('totals are the same before and after the rollup job folds the rows, and follow new rows', async () => {
    const tally = createPipelineTally(h.db.pool, { domains: ['example.com'], maxDomains: 100 });
    const unfolded = comparable(await tally.snapshot());
    await foldEverything();
    assert.deepEqual(comparable(await tally.snapshot()), unfolded);
    // Folded: a scrape reads the running totals, not the rows.
    const queued = await h.db.pool.query(`SELECT count(*)::int AS n FROM rollup_queue`);
    assert.equal(queued.rows[0].n, 0);

    // A message that stays pending (stored without a job), then one more report after it.
    await insertRawMessage(h.db.pool, Buffer.from('{"pending": true}'), { channel: 'ingest' });
    const report = JSON.parse(realFixture('dmarc-report-viewer--google.json').toString());
    report['report-id'] = 'fold-test@example.com';
    report.policies[0].policy['policy-domain'] = 'example.com';
    report.policies[0].summary['total-successful-session-count'] = 7;
    const res = await postReport(h.url(), JSON.stringify(report), { 'content-type': 'application/tlsrpt+json' });
    assert.equal((await h.settled(res.body.id!)).status, 'stored');

    const after = comparable(await tally.snapshot());
    assert.equal(after.sessions[`example.com\tsts\tsuccessful`], 26 + 7);
    assert.equal(after.received.ingest, 1);
    assert.equal(after.pending.ingest, 1);
    assert.equal(after.reportsStored, 21);
    // And again, now that it is folded (the pending message stays past the mark).
    await foldEverything();
    assert.deepEqual(comparable(await tally.snapshot()), after);
  });

  it('keeps the totals of rows deleted after they were folded (retention), and says how far the rollups lag', async () => {
    const tally = createPipelineTally(h.db.pool, { domains: ['example.com'], maxDomains: 100 });
    await foldEverything();
    const before = comparable(await tally.snapshot());
    await h.db.pool.query(`DELETE FROM failure_details`);
    assert.deepEqual(comparable(await tally.snapshot()), before);
    assert.equal((await tally.snapshot()).rollupLagSeconds, 0);
    // In /metrics, read right after the samples were stored (test/rollup covers a lag that grows).
    const lag = m.get('tlsrpt_rollup_lag_seconds');
    assert.ok(lag !== undefined && lag >= 0 && lag < 60, String(lag));
  });

  it('caps the domains with a series of their own; the rest sum up as "other", the same in every process', async () => {
    const a = await createPipelineTally(h.db.pool, { domains: ['example.com'], maxDomains: 2 }).snapshot();
    const b = await createPipelineTally(h.db.pool, { domains: ['example.com'], maxDomains: 2 }).snapshot();
    assert.deepEqual(comparable(a), comparable(b));
    const domains = new Set([...a.sessions.keys()].map((k) => k.split('\t')[0]));
    const own = [...domains].filter((d) => !['example.com', 'other', 'none'].includes(d!));
    assert.equal(own.length, 2, [...domains].join(', '));
    assert.ok(domains.has('other'));
    const sum = (result: string) => [...a.sessions].filter(([k]) => k.endsWith(`\t${result}`)).reduce((s, [, n]) => s + n, 0);
    // Every session is still counted once: the 7 of the report added above, plus the samples.
    assert.equal(sum('successful'), TOTAL_SUCCESSFUL + 7);
    assert.equal(sum('failed'), TOTAL_FAILED);
  });
});

function comparable(s: PipelineSnapshot) {
  const obj = (m: Map<string, unknown>) => Object.fromEntries([...m].sort((x, y) => x[0].localeCompare(y[0])));
  return {
    received: obj(s.received) as Record<string, number>,
    processed: obj(s.processed),
    quarantined: obj(s.quarantined),
    pending: obj(s.pending) as Record<string, number>,
    delayCounts: Object.fromEntries([...s.delay].map(([k, d]) => [k, [d.count, ...d.buckets]])),
    reportsStored: s.reportsStored,
    sessions: obj(s.sessions) as Record<string, number>,
    failedSessions: obj(s.failedSessions),
  };
}
