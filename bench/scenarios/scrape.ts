/**
 * Scrape: the pipeline part of GET /metrics on the scale data set (a year for 1,000 domains x 5 reporters,
 * BENCH_SCALE_ROWS failure details), as the first scrape after a start makes it: a new reader each time, with
 * nothing in memory (src/metrics/pipelineTotals.ts reads the running totals of migrations/0012). Before
 * issue 13 the first scrape re-read the whole history: 3 s at 6 million failure details.
 * Runnable alone: BENCH_ONLY=scrape.
 */
import { median } from '../lib/benchEnv.js';
import type { Figure, Scenario } from '../lib/types.js';
import { createPipelineTally } from '../../src/metrics/pipelineTotals.js';
import { generate, scaleShape } from './scale.js';

export const scrapeScenario: Scenario = {
  name: 'scrape',
  describe: 'scrape: /metrics pipeline totals, first scrape after a start, with BENCH_SCALE_ROWS failure details stored',
  async run(ctx) {
    const shape = scaleShape(ctx.settings);
    await ctx.db.truncate();
    const gen = await generate(ctx, shape);
    ctx.log(`  generated in ${gen.seconds.toFixed(0)} s (rollups built in ${gen.totalsSeconds.toFixed(0)} s)`);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      // METRICS_MAX_DOMAINS' default (100): the totals of all 1,000 domains are read, 100 get series of their own.
      const tally = createPipelineTally(ctx.db.pool, { domains: [], maxDomains: 100 });
      const t0 = performance.now();
      const snapshot = await tally.snapshot();
      times.push(performance.now() - t0);
      if (snapshot.reportsStored !== shape.domains * shape.reporters * shape.days) throw new Error('the scrape did not see every report');
    }
    await ctx.db.truncate();
    return [
      {
        scenario: 'scrape',
        name: `/metrics pipeline totals, first scrape after start, ${shape.detailRows} failure details`,
        unit: 'ms',
        runs: times,
        value: median(times),
        extra: {},
        settings: { ...shape, rollupsSeconds: Math.round(gen.totalsSeconds) },
        target: '< 100',
      } satisfies Figure,
    ];
  },
};
