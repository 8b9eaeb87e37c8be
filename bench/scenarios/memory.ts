/**
 * Memory: peak RSS of a worker process (bench/memoryProbe.ts in a child) while ingesting a report with
 * BENCH_MEMORY_DETAILS failure details, and while refusing a decompression bomb (a small gzip that
 * inflates far past REPORT_MAX_BYTES).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { buildReportMail } from '../../test/helpers/reportMail.js';
import { projectPath } from '../../src/util/projectPath.js';
import { median } from '../lib/benchEnv.js';
import { buildMixedReport, createRandom } from '../lib/reportMix.js';
import type { Figure, Scenario } from '../lib/types.js';

const run = promisify(execFile);
const REPORT_MAX_BYTES = 64 * 1024 * 1024; // the default ceiling

/** gzip of a JSON-looking stream of `bytes` spaces: a few hundred KB that inflate to `bytes`. */
async function bombBytes(bytes: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => gz.on('end', r));
  gz.write('{"organization-name":"bomb","x":"');
  const chunk = Buffer.alloc(1 << 20, 0x20);
  for (let written = 0; written < bytes; written += chunk.length) {
    if (!gz.write(chunk)) await new Promise((r) => gz.once('drain', r));
  }
  gz.end('"}');
  await done;
  return Buffer.concat(out);
}

export const memoryScenario: Scenario = {
  name: 'memory',
  describe: 'memory: peak RSS of a worker process for a huge report and a decompression bomb',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-bench-mem-'));
    try {
      const large = buildMixedReport(createRandom(7), `memory-${process.pid}`, 0, ctx.settings.memoryDetails);
      const largeFile = join(dir, 'large.eml');
      writeFileSync(largeFile, buildReportMail({ report: large.report, submitter: large.submitter }));
      const bombSize = ctx.settings.smoke ? 2 * REPORT_MAX_BYTES : 16 * REPORT_MAX_BYTES;
      const bombFile = join(dir, 'bomb.eml');
      writeFileSync(bombFile, buildReportMail({ report: {}, attachment: await bombBytes(bombSize) }));
      const cases: Array<{ name: string; file: string; expect: string; settings: Record<string, number> }> = [
        {
          name: `ingest a report with ${ctx.settings.memoryDetails} failure details`,
          file: largeFile,
          expect: 'stored',
          settings: { details: ctx.settings.memoryDetails },
        },
        {
          name: `refuse a decompression bomb (${bombSize / 2 ** 20} MiB inflated)`,
          file: bombFile,
          expect: 'quarantined',
          settings: { inflatedMiB: bombSize / 2 ** 20 },
        },
      ];
      const figures: Figure[] = [];
      for (const c of cases) {
        const peaks: number[] = [];
        const baselines: number[] = [];
        for (let i = 0; i < ctx.settings.runs; i++) {
          await ctx.db.truncate();
          const { stdout } = await run(
            process.execPath,
            ['--import', 'tsx', projectPath('bench/memoryProbe.ts'), ctx.db.url, c.file, String(REPORT_MAX_BYTES)],
            { maxBuffer: 1 << 20 },
          );
          const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
            outcome: string;
            reason: string | null;
            peakRssMB: number;
            baselineMB: number;
          };
          if (r.outcome !== c.expect) throw new Error(`memory case "${c.name}": expected ${c.expect}, got ${r.outcome} ${r.reason ?? ''}`);
          peaks.push(r.peakRssMB);
          baselines.push(r.baselineMB);
          ctx.log(`  ${c.name}: peak ${r.peakRssMB.toFixed(0)} MB (${r.outcome}${r.reason ? `: ${r.reason}` : ''})`);
        }
        figures.push({
          scenario: 'memory',
          name: c.name,
          unit: 'MB peak RSS',
          runs: peaks,
          value: median(peaks),
          extra: { startRssMB: median(baselines) },
          settings: { ...c.settings, reportMaxBytes: REPORT_MAX_BYTES },
          target: '< 300',
        });
      }
      return figures;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
