/**
 * Dashboard (BENCH_ONLY=dashboard): on the scale data set (1 year x 1,000 policy domains x 5 reporters,
 * generated as in ./scale.ts), the latency of every API call the pages make (p50 and p95 per endpoint,
 * target < 300 ms); then with 9,000 more domains (10,000 in all) the time the Domains page takes to show
 * in Chromium (target < 1 s), and the compressed JavaScript of the pages (target < 300 KB).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startHttpService } from '../../src/services/httpService.js';
import { createLogger } from '../../src/log/createLogger.js';
import { loadConfig } from '../../src/config/loadConfig.js';
import { addUser } from '../../src/users/userStore.js';
import { projectPath } from '../../src/util/projectPath.js';
import { CHROMIUM, launchChromium } from '../../test/ui/browser.js';
import { median, percentile } from '../lib/benchEnv.js';
import type { BenchContext, Figure, Scenario } from '../lib/types.js';
import { generate, scaleShape } from './scale.js';

const USER = { username: 'bench', password: 'bench password 123' };

/**
 * The calls the pages make, as the pages make them (default thresholds, 50 a page). The list keeps the
 * verdicts of every domain until a report arrives (src/api/domainQueries.ts), so the list is also timed with
 * thresholds that change on each call: the cost of a first visit, or of the first visit after new reports.
 */
function endpoints(domain: string): Array<{ name: string; path: string | ((call: number) => string) }> {
  return [
    { name: 'GET /api/v1/domains (verdicts computed afresh)', path: (call) => `/api/v1/domains?limit=50&min_reporters=${100 + call}` },
    { name: 'GET /api/v1/session', path: '/api/v1/session' },
    { name: 'GET /api/v1/domains (first page)', path: '/api/v1/domains?limit=50' },
    { name: 'GET /api/v1/domains (by failure rate, filtered)', path: '/api/v1/domains?limit=50&sort=failure_rate&order=desc&q=d4' },
    { name: 'GET /api/v1/domains/{domain} (30 days)', path: `/api/v1/domains/${domain}` },
    {
      name: 'GET /api/v1/domains/{domain} (1 year, by policy type)',
      path: `/api/v1/domains/${domain}?since=${daysAgo(365)}&by=policy-type`,
    },
    { name: 'GET /api/v1/reports?domain=', path: `/api/v1/reports?domain=${domain}&limit=50` },
    { name: 'GET /api/v1/quarantine', path: '/api/v1/quarantine?limit=100' },
    { name: 'GET /api/v1/alerts', path: '/api/v1/alerts?limit=100' },
  ];
}

function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}

/** Adds `domains` more policy domains, each with 2 reporters x 7 days of reports, through the daily-totals triggers. */
async function addDomains(ctx: BenchContext, first: number, domains: number): Promise<void> {
  await ctx.db.pool.query(
    `WITH raw AS (INSERT INTO raw_messages (channel, size_bytes, sha256, raw, status) VALUES ('ingest', 0, '\\x00', '\\x00', 'stored') RETURNING id),
     r AS (
       INSERT INTO reports (raw_message_id, organization_name, report_id, start_at, end_at, payload_sha256, report_json, tls_report_domain)
       SELECT raw.id, 'reporter-' || rep, 'extra-' || d || '-' || rep || '-' || day, s, s + interval '1 day' - interval '1 second', '\\x00', '{}',
              'x' || d || '.example.org'
       FROM raw, generate_series($1::int, $1::int + $2::int - 1) d, generate_series(0, 1) rep, generate_series(1, 7) day,
            LATERAL (SELECT date_trunc('day', now()) - day * interval '1 day' AS s) t
       RETURNING id, tls_report_domain)
     INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string, mx_host,
                           total_successful_session_count, total_failure_session_count)
     SELECT id, 0, 'sts', tls_report_domain, '{version: STSv1,mode: testing}', '{mx.example.org}', 500 + id % 300, id % 3 FROM r`,
    [first, domains],
  );
  await ctx.db.pool.query(`VACUUM (ANALYZE) reports, policies, daily_session_totals, daily_domain_totals, daily_failure_totals`);
}

function figure(name: string, unit: string, runs: number[], extra: Record<string, number>, target?: string): Figure {
  return { scenario: 'dashboard', name, unit, runs, value: median(runs), extra, settings: {}, target };
}

export const dashboardScenario: Scenario = {
  name: 'dashboard',
  describe: 'API latency per endpoint on 1 year x 1,000 domains; Domains page load with 10,000 domains in Chromium',
  async run(ctx) {
    const s = ctx.settings;
    const shape = scaleShape(s);
    await generate(ctx, shape);
    await addUser(ctx.db.pool, USER.username, 'read', USER.password);

    const config = loadConfig({ ...ctx.tlsrptEnv, HTTP_TLS: 'off', LOG_LEVEL: 'silent' });
    const http = await startHttpService(config, createLogger('silent'));
    const base = `http://127.0.0.1:${http.port}`;
    const figures: Figure[] = [];
    try {
      const login = await fetch(`${base}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(USER),
      });
      const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
      const calls = s.smoke ? 3 : 30;
      for (const e of endpoints(`d${Math.min(42, shape.domains - 1)}.example.net`)) {
        const times: number[] = [];
        for (let i = 0; i < calls + 2; i++) {
          const t0 = performance.now();
          const res = await fetch(base + (typeof e.path === 'string' ? e.path : e.path(i)), { headers: { cookie } });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`${e.name}: HTTP ${res.status}`);
          if (i >= 2) times.push(performance.now() - t0); // the first two warm the plan caches
        }
        const p50 = percentile(times, 50);
        const p95 = percentile(times, 95);
        ctx.log(`  ${e.name}: p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms`);
        figures.push(figure(`${e.name}, p95`, 'ms', [p95], { p50, p95, calls }, '< 300'));
      }

      const extra = s.smoke ? 40 : 9000;
      ctx.log(`  adding ${extra} domains ...`);
      await addDomains(ctx, 0, extra);
      if (!existsSync(CHROMIUM)) {
        ctx.log(`  ${CHROMIUM} is missing: no page-load figure (apt-get install chromium)`);
      } else {
        const browser = await launchChromium();
        try {
          const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
          const [name, value] = cookie.split('=') as [string, string];
          await context.addCookies([{ name, value, url: base }]);
          const page = await context.newPage();
          const loads: number[] = [];
          let first = 0;
          for (let run = 0; run < (s.smoke ? 1 : 5) + 1; run++) {
            await page.goto('about:blank'); // else the same URL again is only a fragment change, not a load
            const t0 = performance.now();
            await page.goto(`${base}/ui/#/domains`);
            await page.waitForSelector('table.domains tbody tr:nth-child(50) canvas, table.domains tbody tr:last-child canvas');
            // The first load fills the browser's cache and the server's verdicts, as a first visit does.
            if (run > 0) loads.push(performance.now() - t0);
            else first = performance.now() - t0;
          }
          const total = await page.textContent('.total');
          ctx.log(`  Domains page (${total}): first ${first.toFixed(0)} ms, then ${loads.map((l) => l.toFixed(0)).join(', ')} ms`);
          figures.push(figure(`Domains page load, ${shape.domains + extra} domains`, 'ms', loads, { first }, '< 1000'));
        } finally {
          await browser.close();
        }
      }
    } finally {
      await http.stop();
    }

    const assets = projectPath('dist-ui', 'assets');
    const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
    const kb = js.reduce((n, f) => n + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0) / 1024;
    figures.push(figure('JavaScript of the pages, gzip', 'KB', [kb], {}, '< 300'));
    return figures;
  },
};
