/**
 * Scale: one year of reports for 1,000 policy domains x 5 reporters, with BENCH_SCALE_ROWS failure-detail
 * rows spread over them, generated server-side (INSERT ... SELECT generate_series). Then the worker's
 * reports/s on that database versus an empty one, and the time of the readiness and daily-stats queries.
 * The generation bypasses the trigger that queues reports for the rollups (migrations/0012), then builds the
 * rollups with refresh_daily_totals(); the worker runs afterwards queue theirs, and its rollup job folds them.
 * The queries use the views `enforce_readiness` / `daily_policy_stats` when a migration has added them,
 * and representative equivalents over the base tables until then.
 */
import { pruneData, type PruneSummary } from '../../src/retention/pruneData.js';
import { withRetentionLock } from '../../src/retention/retentionJob.js';
import { median } from '../lib/benchEnv.js';
import type { BenchSettings } from '../lib/settings.js';
import type { BenchContext, Figure, Scenario } from '../lib/types.js';
import { measureWorkerOnly } from './workerOnly.js';

export interface Shape {
  domains: number;
  reporters: number;
  days: number;
  detailRows: number;
}

/** The scale data set: a year for 1,000 domains x 5 reporters; in a smoke run, 10 domains over smokeDays days. */
export function scaleShape(settings: BenchSettings, smokeDays = 30): Shape {
  return settings.smoke
    ? { domains: 10, reporters: 5, days: smokeDays, detailRows: settings.scaleRows }
    : { domains: 1000, reporters: 5, days: 365, detailRows: settings.scaleRows };
}

/** Fills the (empty) bench database; returns the seconds it took, and those of refresh_daily_totals() in it. */
export async function generate(ctx: BenchContext, shape: Shape): Promise<{ seconds: number; totalsSeconds: number }> {
  ctx.log(`  generating ${shape.domains * shape.reporters * shape.days} reports and ${shape.detailRows} failure details ...`);
  const t0 = Date.now();
  const c = await ctx.db.pool.connect();
  try {
    // Generated rows are consistent by construction; skipping the per-row FK triggers makes 10M rows
    // take minutes instead of tens of minutes. Only this session, only for the generation.
    await c.query(`SET session_replication_role = replica`);
    await c.query(`SET synchronous_commit = off`);
    // Each report is stored the day after its day, as in life, so the rows fill a year of month partitions
    // (migrations/0013) and retention has months to prune.
    await c.query(
      `SELECT create_month_partition(t::regclass, m::date)
       FROM unnest(ARRAY['reports', 'policies', 'failure_details']) AS t,
            generate_series(date_trunc('month', now() - $1 * interval '1 day'), now(), interval '1 month') AS m`,
      [shape.days],
    );
    const raw = await c.query<{ id: number }>(
      `INSERT INTO raw_messages (channel, size_bytes, sha256, raw, status) VALUES ('ingest', 0, '\\x00', '\\x00', 'stored') RETURNING id`,
    );
    // One report per (domain, reporter, day), one policy per report; ids are consecutive within a statement.
    const reports = await c.query<{ min: number; n: number }>(
      `WITH ins AS (
         INSERT INTO reports (raw_message_id, organization_name, report_id, start_at, end_at, payload_sha256, report_json, tls_report_domain,
                              stored_at)
         SELECT $1, 'reporter-' || r, 'scale-' || d || '-' || day, s, s + interval '1 day' - interval '1 second', '\\x00', '{}', 'd' || d || '.example.net',
                s + interval '1 day'
         FROM generate_series(0, $2 - 1) d, generate_series(0, $3 - 1) r, generate_series(1, $4) day,
              LATERAL (SELECT date_trunc('day', now()) - day * interval '1 day' AS s) t
         ORDER BY day, d, r
         RETURNING id)
       SELECT min(id)::bigint AS min, count(*)::int AS n FROM ins`,
      [raw.rows[0]!.id, shape.domains, shape.reporters, shape.days],
    );
    const policies = await c.query<{ min: number }>(
      `WITH ins AS (
         INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string, mx_host,
                               total_successful_session_count, total_failure_session_count, stored_at)
         SELECT id, 0, 'sts', tls_report_domain, '{version: STSv1,mode: testing}', '{mx.example.net}', 1000 + id % 500, id % 7, stored_at
         FROM reports ORDER BY id
         RETURNING id)
       SELECT min(id)::bigint AS min FROM ins`,
    );
    const n = reports.rows[0]!.n;
    await c.query(
      `INSERT INTO failure_details (policy_id, report_id, result_type, sending_mta_ip, receiving_mx_hostname, receiving_ip, failed_session_count,
                                   stored_at)
       SELECT $1::bigint + g % $3, $2::bigint + g % $3,
              (ARRAY['certificate-expired','validation-failure','starttls-not-supported','sts-policy-fetch-error'])[1 + g % 4],
              '192.0.2.' || (g % 250), 'mx' || (g % 3) || '.example.net', '198.51.100.' || (g % 250), 1 + g % 9,
              -- Its report's stored_at: reports were inserted day by day, $5 per day, newest day first.
              date_trunc('day', now()) - ((g % $3) / $5) * interval '1 day'
       FROM generate_series(0, $4 - 1) g`,
      [policies.rows[0]!.min, reports.rows[0]!.min, n, shape.detailRows, shape.domains * shape.reporters],
    );
    // The dedupe of every report stored (migrations/0013), as the worker fills it.
    await c.query(
      `INSERT INTO report_identities (id, organization_name, report_id, payload_sha256, raw_message_id, stored_at)
       SELECT id, organization_name, report_id, payload_sha256, raw_message_id, stored_at FROM reports`,
    );
    await c.query(`SET session_replication_role = origin`);
    // The replica role skipped the trigger that queues reports for the rollups (migrations/0012): build
    // them from the generated rows (the per-day totals and the /metrics totals).
    const t1 = Date.now();
    await c.query(`SELECT refresh_daily_totals()`);
    const totalsSeconds = (Date.now() - t1) / 1000;
    // Measure a steady state, not the aftermath of a bulk load: vacuum now (else autovacuum runs during
    // the measurement) and flush the generated pages (else the next checkpoint does, mid-measurement).
    await c.query(`VACUUM (ANALYZE) raw_messages, reports, policies, failure_details,
                   daily_session_totals, daily_domain_totals, daily_failure_totals, metric_session_totals, metric_failure_totals`);
    await c.query(`CHECKPOINT`);
    // And as a worker that has run before: today's prune done. Otherwise each worker the bench starts runs
    // it (src/retention/retentionJob.ts), whose ANALYZE of a year measures itself; the prune is measured on
    // its own below (pruneFigures).
    await c.query(
      `INSERT INTO retention_runs (finished_at, summary) VALUES (now(), '{}')
       ON CONFLICT (singleton) DO UPDATE SET finished_at = excluded.finished_at, summary = excluded.summary`,
    );
    return { seconds: (Date.now() - t0) / 1000, totalsSeconds };
  } finally {
    c.release();
  }
}

interface Query {
  name: string;
  sql: string;
  params: unknown[];
  target?: string;
}

async function queries(ctx: BenchContext): Promise<Query[]> {
  const views = (
    await ctx.db.pool.query<{ r: string | null; d: string | null }>(
      `SELECT to_regclass('enforce_readiness')::text AS r, to_regclass('daily_policy_stats')::text AS d`,
    )
  ).rows[0]!;
  const domain = 'd42.example.net';
  return [
    views.r
      ? {
          name: 'readiness (view enforce_readiness, all rows)',
          sql: `SELECT count(*) FROM (SELECT * FROM enforce_readiness) v`,
          params: [],
          target: '< 200',
        }
      : {
          name: 'readiness, every domain, last 30 days (base tables)',
          sql: `SELECT p.policy_domain, count(DISTINCT r.organization_name) AS reporters,
                       sum(p.total_successful_session_count) AS ok, sum(p.total_failure_session_count) AS failed
                FROM reports r JOIN policies p ON p.report_id = r.id
                WHERE r.start_at >= now() - interval '30 days'
                GROUP BY p.policy_domain`,
          params: [],
          target: '< 200',
        },
    ...(views.r
      ? [
          {
            name: 'readiness, one domain (enforce_readiness_for, as tlsrpt readiness --domain)',
            sql: `SELECT count(*) FROM enforce_readiness_for(14, 0.001, 7, 2) WHERE policy_domain = $1`,
            params: [domain],
            target: '< 200',
          },
        ]
      : []),
    {
      name: 'readiness, one domain, last 30 days (base tables)',
      sql: `SELECT count(DISTINCT r.organization_name) AS reporters, sum(p.total_successful_session_count) AS ok,
                   sum(p.total_failure_session_count) AS failed
            FROM policies p JOIN reports r ON r.id = p.report_id
            WHERE p.policy_domain = $1 AND r.start_at >= now() - interval '30 days'`,
      params: [domain],
      target: '< 200',
    },
    ...(views.d
      ? [
          {
            name: 'daily stats (view daily_domain_stats, one year)',
            sql: `SELECT count(*) FROM (SELECT * FROM daily_domain_stats) v`,
            params: [],
          },
        ]
      : []),
    views.d
      ? {
          name: 'daily stats (view daily_policy_stats, one year)',
          sql: `SELECT count(*) FROM (SELECT * FROM daily_policy_stats) v`,
          params: [],
        }
      : {
          name: 'daily stats, one domain, one year, by result type (base tables)',
          sql: `SELECT date_trunc('day', r.start_at) AS day, fd.result_type, sum(fd.failed_session_count) AS failed
                FROM policies p JOIN reports r ON r.id = p.report_id JOIN failure_details fd ON fd.policy_id = p.id
                WHERE p.policy_domain = $1 AND r.start_at >= now() - interval '365 days'
                GROUP BY 1, 2`,
          params: [domain],
        },
  ];
}

export const scaleScenario: Scenario = {
  name: 'scale',
  describe: 'scale: worker reports/s with BENCH_SCALE_ROWS failure details stored vs empty; readiness and daily-stats queries',
  async run(ctx) {
    const s = ctx.settings;
    const shape = scaleShape(s, 45); // smoke: 45 days, a whole month to prune
    const count = s.reports;
    const empty: number[] = [];
    for (let run = 0; run < s.runs; run++) {
      await ctx.db.truncate();
      empty.push((await measureWorkerOnly(ctx, 1, count, `scale-empty-${process.pid}-${run}`)).reportsPerS);
      ctx.log(`  worker, empty database, run ${run + 1}: ${empty[run]!.toFixed(0)} reports/s`);
    }
    await ctx.db.truncate();
    const gen = await generate(ctx, shape);
    const genSeconds = gen.seconds;
    ctx.log(`  generated in ${genSeconds.toFixed(0)} s (daily totals built in ${gen.totalsSeconds.toFixed(0)} s)`);
    const full: number[] = [];
    for (let run = 0; run < s.runs; run++) {
      full.push((await measureWorkerOnly(ctx, 1, count, `scale-full-${process.pid}-${run}`)).reportsPerS);
      ctx.log(`  worker, ${shape.detailRows} rows stored, run ${run + 1}: ${full[run]!.toFixed(0)} reports/s`);
    }
    const settings = {
      ...shape,
      reportsPerRun: count,
      generationSeconds: Math.round(genSeconds),
      dailyTotalsSeconds: Math.round(gen.totalsSeconds),
      workers: 1,
    };
    const figures: Figure[] = [
      { scenario: 'scale', name: 'worker only, empty database', unit: 'reports/s', runs: empty, value: median(empty), extra: {}, settings },
      {
        scenario: 'scale',
        name: `worker only, ${shape.detailRows} failure details stored`,
        unit: 'reports/s',
        runs: full,
        value: median(full),
        extra: { pctOfEmpty: (100 * median(full)) / median(empty) },
        settings,
        target: '>= 85% of empty',
      },
    ];
    for (const q of await queries(ctx)) {
      const times: number[] = [];
      await ctx.db.pool.query(q.sql, q.params); // warm the cache once, as a dashboard that is in use would
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await ctx.db.pool.query(q.sql, q.params);
        times.push(performance.now() - t0);
      }
      figures.push({
        scenario: 'scale',
        name: q.name,
        unit: 'ms',
        runs: times,
        value: median(times),
        extra: {},
        settings,
        ...(q.target ? { target: q.target } : {}),
      });
    }
    figures.push(...(await pruneFigures(ctx, settings, median(full))));
    await ctx.db.truncate();
    return figures;
  },
};

const DAY_MS = 86_400_000;

/**
 * Retention on the year just generated (README "Retention"): the oldest month pruned while the worker
 * stores reports, the worker's reports/s meanwhile against its rate without a prune, and whether the daily
 * views and the readiness verdict of the pruned days stayed identical.
 */
async function pruneFigures(ctx: BenchContext, settings: Record<string, string | number | boolean>, fullRate: number): Promise<Figure[]> {
  const pool = ctx.db.pool;
  const oldest = (await pool.query<{ t: Date }>(`SELECT min(stored_at) AS t FROM reports`)).rows[0]!.t;
  const monthEnd = new Date(Date.UTC(oldest.getUTCFullYear(), oldest.getUTCMonth() + 1, 1));
  // The cutoff falls within a day after the oldest month's end: that month is due, the next is not.
  const reportDays = Math.floor((Date.now() - monthEnd.getTime()) / DAY_MS);
  if (reportDays < 1) {
    ctx.log('  prune: the generated history holds no whole month before this one; skipped');
    return [];
  }
  const asOf = monthEnd.toISOString().slice(0, 10);
  // The generated days of that month (the worker's reports meanwhile are dated 2024, before them).
  const from = new Date(oldest.getTime() - 2 * DAY_MS).toISOString().slice(0, 10);
  const views = async () =>
    JSON.stringify([
      (await pool.query(`SELECT * FROM daily_policy_stats WHERE day >= $1 AND day < $2 ORDER BY 1, 2, 3, 4`, [from, asOf])).rows,
      (await pool.query(`SELECT * FROM daily_domain_stats WHERE day >= $1 AND day < $2 ORDER BY 1, 2, 3`, [from, asOf])).rows,
      (await pool.query(`SELECT * FROM enforce_readiness_for(14, 0.001, 7, 2, $1::date)`, [asOf])).rows,
    ]);
  const before = await views();
  const details = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM failure_details WHERE stored_at < $1`, [monthEnd]))
    .rows[0]!.n;

  const client = await pool.connect();
  let pruning: Promise<{ seconds: number; summary: PruneSummary }> | null = null;
  let during: number;
  try {
    const run = await measureWorkerOnly(ctx, 1, ctx.settings.reports, `scale-prune-${process.pid}`, () => {
      pruning = (async () => {
        const t0 = performance.now();
        const summary = await withRetentionLock(client, true, () => pruneData(client, { rawDays: 0, quarantineDays: 0, reportDays }));
        return { seconds: (performance.now() - t0) / 1000, summary: summary! };
      })();
    });
    during = run.reportsPerS;
  } finally {
    // The prune may still be running when the worker is done: wait for it (its error is thrown below)
    // before the connection goes back.
    await Promise.allSettled([pruning]);
    client.release();
  }
  const { seconds, summary } = await pruning!;
  const month = summary.months[0];
  const identical = (await views()) === before;
  ctx.log(
    `  pruned ${month?.month ?? 'nothing'} (${month?.reports ?? 0} reports, ${details} failure details) in ${seconds.toFixed(2)} s; ` +
      `worker meanwhile ${during.toFixed(0)} reports/s (${((100 * during) / fullRate).toFixed(0)}% of without); ` +
      `views of the pruned days ${identical ? 'identical' : 'CHANGED'}`,
  );
  const times: number[] = [];
  await pool.query(`SELECT count(*) FROM (SELECT * FROM enforce_readiness) v`);
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await pool.query(`SELECT count(*) FROM (SELECT * FROM enforce_readiness) v`);
    times.push(performance.now() - t0);
  }
  const pruneSettings = {
    ...settings,
    prunedMonth: month?.month ?? 'none',
    prunedReports: month?.reports ?? 0,
    prunedFailureDetails: details,
  };
  return [
    {
      scenario: 'scale',
      name: 'prune the oldest month (detach and drop its partitions)',
      unit: 's',
      runs: [seconds],
      value: seconds,
      extra: { megabytes: (month?.bytes ?? 0) / 1e6, viewsIdentical: identical ? 1 : 0 },
      settings: pruneSettings,
    },
    {
      scenario: 'scale',
      name: 'worker only, during that prune',
      unit: 'reports/s',
      runs: [during],
      value: during,
      extra: { pctOfWithout: (100 * during) / fullRate },
      settings: pruneSettings,
      target: '>= 80% of without',
    },
    {
      scenario: 'scale',
      name: 'readiness after the prune (view enforce_readiness, all rows)',
      unit: 'ms',
      runs: times,
      value: median(times),
      extra: {},
      settings: pruneSettings,
      target: '< 100',
    },
  ];
}
