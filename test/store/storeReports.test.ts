/**
 * storeReports against a real database: several reports in one statement (src/store/storeReport.ts).
 * Every row is compared with the report JSON it came from; dedupe, conflicts, reprocessing, a bad item
 * among good ones and a service outage are each shown on a batch, since that is how the worker calls it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { isServiceOutage } from '../../src/errors.js';
import { decodeMessage, type DecodedReport } from '../../src/pipeline/decodeMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReports, type StoreItem, type StoreResult } from '../../src/store/storeReport.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';
import type { WireFailureDetail, WirePolicyEntry, WireReport as BaseWireReport } from '../../src/validate/reportTypes.js';

// The test's reports may carry policy types outside the schema's list only where a test says so.
type WireDetail = WireFailureDetail;
type WirePolicy = Omit<WirePolicyEntry, 'policy'> & { policy: Omit<WirePolicyEntry['policy'], 'policy-type'> & { 'policy-type': string } };
type WireReport = Omit<BaseWireReport, 'policies'> & { policies: WirePolicy[] };

const CONFLICT_DETAIL = 'a different report with the same organization-name and report-id was stored first; kept the first';

function detail(type: string, n: number, i = 0): WireDetail {
  return {
    'result-type': type,
    'sending-mta-ip': `198.51.100.${i % 250}`,
    'receiving-mx-hostname': `mx${i % 3}.example.net`,
    'receiving-ip': `192.0.2.${i % 250}`,
    'failed-session-count': n,
  };
}

/** A policy whose failure total is the sum of its details (so no failure-total-mismatch fix-up). */
function policy(
  type: string,
  domain: string,
  ok: number,
  details: WireDetail[] | undefined,
  extra: Partial<WirePolicy['policy']> = {},
): WirePolicy {
  const failed = (details ?? []).reduce((s, d) => s + d['failed-session-count'], 0);
  const p: WirePolicy = {
    policy: {
      'policy-type': type,
      ...(type === 'sts' ? { 'policy-string': ['version: STSv1', 'mode: enforce', `mx: mx.${domain}`, 'max_age: 86400'] } : {}),
      ...(type === 'tlsa' ? { 'policy-string': ['3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6'] } : {}),
      'policy-domain': domain,
      ...(type === 'no-policy-found' ? {} : { 'mx-host': [`mx.${domain}`, `mx2.${domain}`] }),
      ...extra,
    },
    summary: { 'total-successful-session-count': ok, 'total-failure-session-count': failed },
  };
  if (details) p['failure-details'] = details;
  return p;
}

function report(org: string, reportId: string, policies: WirePolicy[], day = '2026-03-01'): WireReport {
  return {
    'organization-name': org,
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': `tlsrpt@${org.toLowerCase().replace(/\W/g, '')}.example`,
    'report-id': reportId,
    policies,
  };
}

interface Prepared extends StoreItem {
  input: WireReport;
  raw: Buffer;
  filename: string;
}

describe('storeReports: several reports in one statement', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  /** Mails `r`, commits the raw message, and decodes it the way the worker does. */
  async function prepare(r: WireReport, raw?: Buffer): Promise<Prepared> {
    const domain = r.policies[0]?.policy['policy-domain'] ?? 'example.com';
    const submitter = `${r['organization-name'].toLowerCase().replace(/\W/g, '')}.example`;
    const filename = `${submitter}!${domain}!1772323200!1772409599!${r['report-id']}.json.gz`;
    const bytes = raw ?? buildReportMail({ report: r, policyDomain: domain, submitter, reportId: r['report-id'], filename });
    const rawMessageId = await insertRawMessage(db.pool, bytes, { channel: 'ingest' });
    return { rawMessageId, decoded: await decodeMessage(bytes, { reportMaxBytes: 16 << 20 }), input: r, raw: bytes, filename };
  }

  /** Another raw message with exactly the same bytes: a re-delivery. */
  const redeliver = (p: Prepared) => prepare(p.input, p.raw);

  function stored(result: StoreResult | Error | undefined): StoreResult {
    if (result === undefined) throw new Error('no result');
    if (result instanceof Error) throw result;
    return result;
  }

  async function count(table: string): Promise<number> {
    return (await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
  }

  interface Counts {
    reports: number;
    policies: number;
    failure_details: number;
  }

  async function counts(): Promise<Counts> {
    return { reports: await count('reports'), policies: await count('policies'), failure_details: await count('failure_details') };
  }

  /** The rows written since `before` was counted. */
  async function addedSince(before: Counts): Promise<Counts> {
    const now = await counts();
    return {
      reports: now.reports - before.reports,
      policies: now.policies - before.policies,
      failure_details: now.failure_details - before.failure_details,
    };
  }

  async function message(id: number) {
    return (await db.pool.query(`SELECT status, report_id, reason, detail, processed_at FROM raw_messages WHERE id = $1`, [id])).rows[0];
  }

  /** Every row of stored report `reportId` against the JSON it was made from. */
  async function assertStoredAs(reportId: number, p: Prepared): Promise<void> {
    const r = p.input;
    const row = (await db.pool.query(`SELECT * FROM reports WHERE id = $1`, [reportId])).rows[0];
    assert.ok(row, `report ${reportId} exists`);
    assert.equal(row.raw_message_id, p.rawMessageId);
    assert.equal(row.organization_name, r['organization-name']);
    assert.equal(row.report_id, r['report-id']);
    assert.equal(row.contact_info, r['contact-info']);
    assert.equal(row.start_at.toISOString(), new Date(r['date-range']['start-datetime']).toISOString());
    assert.equal(row.end_at.toISOString(), new Date(r['date-range']['end-datetime']).toISOString());
    assert.equal(row.payload_sha256.toString('hex'), createHash('sha256').update(JSON.stringify(r)).digest('hex'));
    // report_json is the report after fix-ups: here only "failure-details" added where it was left out.
    const normalised = structuredClone(r);
    for (const pol of normalised.policies) pol['failure-details'] ??= [];
    assert.deepEqual(row.report_json, normalised);
    // The two fix-ups these crafted reports can need (README "Fix-ups").
    const fixups = [
      ...(r.policies.some((pol) => !('failure-details' in pol)) ? ['failure-details-missing'] : []),
      ...(r.policies.some((pol) =>
        pol['failure-details']?.some((d) => !d['sending-mta-ip'] || !d['receiving-ip'] || !d['receiving-mx-hostname']),
      )
        ? ['failure-detail-fields-missing']
        : []),
    ];
    assert.deepEqual([...row.fixups].sort(), fixups.sort());
    const domain = r.policies[0]!.policy['policy-domain'];
    assert.equal(row.tls_report_domain, domain);
    assert.equal(row.tls_report_submitter, `${r['organization-name'].toLowerCase().replace(/\W/g, '')}.example`);
    assert.equal(row.subject_report_id, r['report-id']);
    assert.equal(row.attachment_filename, p.filename);

    const policies = (
      await db.pool.query(
        `SELECT id, policy_index, policy_type, policy_domain, policy_string, mx_host,
                total_successful_session_count AS ok, total_failure_session_count AS failed
         FROM policies WHERE report_id = $1 ORDER BY policy_index`,
        [reportId],
      )
    ).rows;
    assert.deepEqual(
      policies.map(({ id: _id, ...rest }) => rest),
      r.policies.map((pol, i) => ({
        policy_index: i,
        policy_type: pol.policy['policy-type'],
        policy_domain: pol.policy['policy-domain'] ?? null,
        policy_string: pol.policy['policy-string'] ?? [],
        mx_host: pol.policy['mx-host'] ?? [],
        ok: pol.summary['total-successful-session-count'],
        failed: pol.summary['total-failure-session-count'],
      })),
    );
    const policyIds = policies.map((pol) => pol.id as number);
    assert.deepEqual(
      policyIds,
      [...policyIds].sort((a, b) => a - b),
      'policy ids in policy order',
    );

    const details = (
      await db.pool.query(
        `SELECT p.policy_index, d.report_id, d.result_type, d.sending_mta_ip, d.receiving_mx_hostname, d.receiving_mx_helo,
                d.receiving_ip, d.failed_session_count, d.additional_information, d.failure_reason_code
         FROM failure_details d JOIN policies p ON p.id = d.policy_id
         WHERE d.report_id = $1 OR p.report_id = $1 ORDER BY d.id`,
        [reportId],
      )
    ).rows;
    // Ordered by id: the ids follow the order in which the report lists the details, policy by policy.
    assert.deepEqual(
      details,
      r.policies.flatMap((pol, i) =>
        (pol['failure-details'] ?? []).map((d) => ({
          policy_index: i,
          report_id: reportId,
          result_type: d['result-type'],
          sending_mta_ip: d['sending-mta-ip'] ?? null,
          receiving_mx_hostname: d['receiving-mx-hostname'] ?? null,
          receiving_mx_helo: d['receiving-mx-helo'] ?? null,
          receiving_ip: d['receiving-ip'] ?? null,
          failed_session_count: d['failed-session-count'],
          additional_information: d['additional-information'] ?? null,
          failure_reason_code: d['failure-reason-code'] ?? null,
        })),
      ),
    );

    const msg = await message(p.rawMessageId);
    assert.equal(msg.status, 'stored');
    assert.equal(msg.report_id, reportId);
    assert.equal(msg.reason, null);
    assert.equal(msg.detail, null);
    assert.ok(msg.processed_at instanceof Date);
  }

  it('stores a batch of new reports, every row equal to its report JSON', async () => {
    // 600 details in a listed order that follows no column, so only insertion order can keep it.
    const many = Array.from({ length: 600 }, (_, i) =>
      detail(i % 2 ? 'certificate-expired' : 'starttls-not-supported', ((i * 7919) % 997) + 1, i),
    );
    const batch = await Promise.all([
      // One policy, success only, "failure-details" left out (fix-up).
      prepare(report('Alpha Mail', 'alpha-1', [policy('sts', 'one.example', 120, undefined)])),
      // Two policies, every failure-detail field given.
      prepare(
        report('Beta Mail', 'beta-1', [
          policy('sts', 'two.example', 40, [
            {
              'result-type': 'validation-failure',
              'sending-mta-ip': '2001:db8::25',
              'receiving-mx-hostname': 'mx.two.example',
              'receiving-mx-helo': 'helo.two.example',
              'receiving-ip': '2001:db8::1',
              'failed-session-count': 3,
              'additional-information': 'https://beta.example/tlsrpt/help',
              'failure-reason-code': 'X509_V_ERR_CERT_HAS_EXPIRED',
            },
            { 'result-type': 'sts-policy-fetch-error', 'failed-session-count': 1, 'failure-reason-code': 'bad https response code: 404' },
          ]),
          policy('tlsa', 'two.example', 7, []),
        ]),
      ),
      // Three policies of three types, details on two of them.
      prepare(
        report('Gamma Mail', 'gamma-1', [
          policy('no-policy-found', 'three.example', 9, []),
          policy('sts', 'three.example', 0, [detail('certificate-host-mismatch', 5, 1), detail('certificate-expired', 2, 2)]),
          policy('tlsa', 'three.example', 11, [detail('tlsa-invalid', 4, 3)]),
        ]),
      ),
      prepare(report('Delta Mail', 'delta-1', [policy('sts', 'four.example', 1000, many)])),
    ]);
    const before = await counts();

    const results = (await storeReports(db.pool, batch)).map(stored);

    assert.equal(results.length, batch.length);
    assert.ok(results.every((r) => r.outcome === 'stored'));
    const ids = results.map((r) => r.reportId);
    assert.equal(new Set(ids).size, ids.length);
    for (const [i, p] of batch.entries()) await assertStoredAs(ids[i]!, p);
    assert.deepEqual(await addedSince(before), { reports: 4, policies: 1 + 2 + 3 + 1, failure_details: 2 + 3 + 600 });
  });

  it('settles duplicates, conflicts and repeated messages within one batch', async () => {
    const earlier = await prepare(report('Epsilon Mail', 'eps-1', [policy('sts', 'five.example', 10, [])]));
    const [first] = (await storeReports(db.pool, [earlier])).map(stored);

    const a1 = await prepare(report('Zeta Mail', 'zeta-1', [policy('sts', 'six.example', 10, [detail('certificate-expired', 2)])]));
    const a2 = await redeliver(a1); // identical bytes, another raw message
    const b1 = await prepare(report('Eta Mail', 'eta-1', [policy('sts', 'seven.example', 10, [])]));
    // Same identity, different content: the counts differ.
    const b2 = await prepare(report('Eta Mail', 'eta-1', [policy('sts', 'seven.example', 99, [detail('validation-failure', 1)])]));
    const e2 = await redeliver(earlier);
    const c = await prepare(report('Theta Mail', 'theta-1', [policy('tlsa', 'eight.example', 3, [detail('dane-required', 1)])]));
    const before = await counts();

    const results = await storeReports(db.pool, [a1, b1, a2, e2, b2, c, c]);

    const [ra1, rb1, ra2, re2, rb2, rc, rc2] = results.map(stored);
    assert.equal(ra1!.outcome, 'stored');
    assert.deepEqual(ra2, { outcome: 'duplicate', reportId: ra1!.reportId });
    assert.equal(rb1!.outcome, 'stored');
    assert.deepEqual(rb2, { outcome: 'conflict', reportId: rb1!.reportId });
    assert.deepEqual(re2, { outcome: 'duplicate', reportId: first!.reportId });
    assert.equal(rc!.outcome, 'stored');
    assert.deepEqual(rc2, rc, 'the same raw message twice: one report, the same result');

    assert.deepEqual(await addedSince(before), { reports: 3, policies: 3, failure_details: 2 }, 'only a1, b1 and c wrote rows');
    await assertStoredAs(ra1!.reportId, a1);
    await assertStoredAs(rb1!.reportId, b1); // the first of the conflicting pair is kept, rows and all
    await assertStoredAs(rc!.reportId, c);

    const settled = async (id: number) => {
      const m = await message(id);
      return { status: m.status, report_id: m.report_id, reason: m.reason, detail: m.detail };
    };
    assert.deepEqual(await settled(a2.rawMessageId), { status: 'duplicate', report_id: ra1!.reportId, reason: null, detail: null });
    assert.deepEqual(await settled(e2.rawMessageId), { status: 'duplicate', report_id: first!.reportId, reason: null, detail: null });
    const conflict = await message(b2.rawMessageId);
    assert.equal(conflict.status, 'conflict');
    assert.equal(conflict.report_id, rb1!.reportId);
    assert.equal(conflict.reason, null);
    assert.equal(conflict.detail, CONFLICT_DETAIL);
    assert.ok(conflict.processed_at instanceof Date);
    // Both raw mails are kept.
    const kept = await db.pool.query(`SELECT count(*)::int AS n FROM raw_messages WHERE id = ANY($1::bigint[])`, [
      [b1.rawMessageId, b2.rawMessageId],
    ]);
    assert.equal(kept.rows[0].n, 2);
  });

  it('reprocessing the message that stored a report answers stored, with the same id and no new rows', async () => {
    const p = await prepare(report('Iota Mail', 'iota-1', [policy('sts', 'nine.example', 5, [detail('certificate-expired', 1)])]));
    const q = await prepare(report('Kappa Mail', 'kappa-1', [policy('sts', 'ten.example', 5, [])]));
    const [rp, rq] = (await storeReports(db.pool, [p, q])).map(stored);
    const before = await counts();

    const again = (await storeReports(db.pool, [q, p])).map(stored);
    assert.deepEqual(again, [rq, rp]);
    assert.deepEqual(await counts(), before);
    const alone = (await storeReports(db.pool, [p])).map(stored);
    assert.deepEqual(alone, [rp]);
    assert.deepEqual(await counts(), before);
    await assertStoredAs(rp!.reportId, p);
    await assertStoredAs(rq!.reportId, q);
  });

  it('one bad item does not fail the others: a missing raw message, a constraint violation', async () => {
    const good1 = await prepare(
      report('Lambda Mail', 'lambda-1', [policy('sts', 'eleven.example', 8, [detail('certificate-expired', 2)])]),
    );
    const good2 = await prepare(report('Mu Mail', 'mu-1', [policy('tlsa', 'twelve.example', 4, [])]));
    const dup = await redeliver(good2);
    // No raw_messages row with this id: reports.raw_message_id's foreign key refuses it.
    const orphan = await prepare(report('Nu Mail', 'nu-1', [policy('sts', 'thirteen.example', 1, [])]));
    const noRow: StoreItem = { rawMessageId: orphan.rawMessageId + 1_000_000, decoded: orphan.decoded };
    // A negative session count: the schema refuses it in the pipeline, the table's CHECK here.
    const negative = await prepare(report('Xi Mail', 'xi-1', [policy('sts', 'fourteen.example', 1, [])]));
    const badDecoded: DecodedReport = { ...negative.decoded, normalised: structuredClone(negative.decoded.normalised) };
    (badDecoded.normalised as unknown as WireReport).policies[0]!.summary['total-successful-session-count'] = -1;
    const bad: StoreItem = { rawMessageId: negative.rawMessageId, decoded: badDecoded };
    const before = await counts();

    const results = await storeReports(db.pool, [good1, noRow, good2, bad, dup]);

    assert.equal(results.length, 5);
    assert.ok(results[1] instanceof Error, 'the missing raw message is an error');
    assert.match(results[1].message, /foreign key/);
    assert.ok(results[3] instanceof Error, 'the negative count is an error');
    assert.match(results[3].message, /check constraint/);
    const r1 = stored(results[0]);
    const r2 = stored(results[2]);
    const r5 = stored(results[4]);
    assert.equal(r1.outcome, 'stored');
    // Stored one at a time after the batch failed: which of the two copies comes first is a race.
    assert.deepEqual([r2.outcome, r5.outcome].sort(), ['duplicate', 'stored']);
    assert.equal(r2.reportId, r5.reportId);
    await assertStoredAs(r1.reportId, good1);
    const keeper = r2.outcome === 'stored' ? good2 : { ...good2, rawMessageId: dup.rawMessageId };
    await assertStoredAs(r2.reportId, keeper);

    assert.deepEqual(await addedSince(before), { reports: 2, policies: 2, failure_details: 1 });
    const none = await db.pool.query(`SELECT count(*)::int AS n FROM reports WHERE report_id IN ('nu-1', 'xi-1')`);
    assert.equal(none.rows[0].n, 0, 'nothing of the bad items');
    assert.equal((await message(negative.rawMessageId)).status, 'pending', 'the bad item is left for its job to handle');
  });

  it('a Postgres outage rejects the whole call and writes nothing', async () => {
    const proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    const url = new URL(db.url);
    url.port = String(proxy.port);
    const cut: Pool = createPool(url.toString(), { max: 2, connectionTimeoutMillis: 2000 });
    try {
      const warm = await prepare(report('Omicron Mail', 'omicron-1', [policy('sts', 'fifteen.example', 1, [])]));
      assert.equal(stored((await storeReports(cut, [warm]))[0]).outcome, 'stored', 'through the proxy while it is up');

      const batch = await Promise.all([
        prepare(report('Pi Mail', 'pi-1', [policy('sts', 'sixteen.example', 1, [detail('certificate-expired', 1)])])),
        prepare(report('Rho Mail', 'rho-1', [policy('sts', 'seventeen.example', 1, [])])),
        redeliver(warm),
      ]);
      const before = await counts();
      proxy.cut();
      await assert.rejects(storeReports(cut, batch), (err: unknown) => {
        assert.ok(isServiceOutage(err), `a service outage, not ${String(err)}`);
        return true;
      });
      assert.deepEqual(await counts(), before);
      for (const p of batch) assert.equal((await message(p.rawMessageId)).status, 'pending');

      // Nothing listens: the same.
      const closed = createPool('postgresql://postgres@127.0.0.1:1/none', { max: 1, connectionTimeoutMillis: 2000 });
      try {
        await assert.rejects(storeReports(closed, batch), (err: unknown) => isServiceOutage(err));
      } finally {
        await closed.end();
      }

      proxy.restore();
      const results = (await storeReports(cut, batch)).map(stored);
      assert.deepEqual(
        results.map((r) => r.outcome),
        ['stored', 'stored', 'duplicate'],
        'the retry stores what the outage refused',
      );
    } finally {
      await cut.end();
      await proxy.close();
    }
  });

  it('returns the results in input order, whatever the outcome of each', async () => {
    const x = await prepare(report('Sigma Mail', 'sigma-1', [policy('sts', 'eighteen.example', 1, [])]));
    const [rx] = (await storeReports(db.pool, [x])).map(stored);
    const y = await prepare(report('Tau Mail', 'tau-1', [policy('sts', 'nineteen.example', 1, [])]));
    const z = await prepare(report('Upsilon Mail', 'upsilon-1', [policy('sts', 'twenty.example', 1, [])]));
    const x2 = await redeliver(x);
    const y2 = await prepare(report('Tau Mail', 'tau-1', [policy('sts', 'nineteen.example', 2, [])]));

    const results = (await storeReports(db.pool, [z, x2, y, x, y2, z])).map(stored);

    const rowOf = async (id: number) =>
      (await db.pool.query(`SELECT raw_message_id FROM reports WHERE id = $1`, [id])).rows[0].raw_message_id;
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['stored', 'duplicate', 'stored', 'stored', 'conflict', 'stored'],
    );
    assert.equal(await rowOf(results[0]!.reportId), z.rawMessageId);
    assert.equal(results[1]!.reportId, rx!.reportId);
    assert.equal(await rowOf(results[2]!.reportId), y.rawMessageId);
    assert.equal(results[3]!.reportId, rx!.reportId);
    assert.equal(results[4]!.reportId, results[2]!.reportId);
    assert.deepEqual(results[5], results[0]);
  });

  it('two workers storing the same reports in opposite orders: each report once, and no deadlock', async () => {
    // A reporter that mails a report to two addresses, or posts it and mails it, gives two workers the
    // same identities at the same time, each batch in its own order.
    const deadlocks = async (): Promise<number> =>
      (await db.pool.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)).rows[0].deadlocks;
    const before = await deadlocks();
    const workers = [0, 1].map(() => createPool(db.url, { max: 1, applicationName: 'tlsrpt-store-race' }));
    try {
      for (let round = 0; round < 8; round++) {
        const firsts = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            prepare(
              report(`Race ${round}`, `race-${round}-${i}`, [policy('sts', `race${i}.example`, i, [detail('certificate-expired', 1, i)])]),
            ),
          ),
        );
        const seconds = await Promise.all(firsts.map(redeliver));
        const [one, two] = await Promise.all([storeReports(workers[0]!, firsts), storeReports(workers[1]!, [...seconds].reverse())]);
        const a = one.map(stored);
        const b = two.map(stored).reverse();
        for (const [i, p] of firsts.entries()) {
          assert.deepEqual([a[i]!.outcome, b[i]!.outcome].sort(), ['duplicate', 'stored'], `report ${i} of round ${round}`);
          assert.equal(a[i]!.reportId, b[i]!.reportId);
          await assertStoredAs(a[i]!.reportId, a[i]!.outcome === 'stored' ? p : seconds[i]!);
        }
        const n = await db.pool.query(`SELECT count(*)::int AS n FROM reports WHERE organization_name = $1`, [`Race ${round}`]);
        assert.equal(n.rows[0].n, 30);
      }
    } finally {
      await Promise.all(workers.map((w) => w.end()));
    }
    // A backend reports its statistics when it exits at the latest: wait for both, then read the counter.
    await waitFor('the racing connections to close', async () => {
      const r = await db.pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tlsrpt-store-race' AND datname = current_database()`,
      );
      return r.rows[0].n === 0;
    });
    assert.equal(await deadlocks(), before, 'Postgres detected a deadlock between the two batches');
  });

  it('an empty batch is no query and no result', async () => {
    assert.deepEqual(await storeReports(db.pool, []), []);
  });
});
