/**
 * Backfill: `tlsrpt ingest` of one generated mbox, in a child process (./ingestProbe.ts) that reports its
 * wall time and peak RSS.
 * - BENCH_INGEST_MESSAGES report mails (default 100,000; the report mix of the other scenarios, dated
 *   2024, so every one is too old to alert): messages/s and peak RSS.
 * - a BENCH_INGEST_GB mbox (default 5): the same report mails among large ordinary mail (3 MiB each, a
 *   base64 attachment, stored and quarantined as no-report-part as a mailbox export's would be) and
 *   messages over MAX_MESSAGE_SIZE (skipped): peak RSS, which must not grow with the file.
 * The files are generated in a temporary directory (streamed to disk, never held in memory) and deleted
 * after. Run one case alone with BENCH_ONLY=ingest (both) or BENCH_INGEST_CASES=messages / =gb.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildReportMail } from '../../test/helpers/reportMail.js';
import { writeMboxrd } from '../../test/helpers/mbox.js';
import { projectPath } from '../../src/util/projectPath.js';
import { median, serviceCpuDelta, serviceCpuFor } from '../lib/benchEnv.js';
import { buildMixedReport, createRandom } from '../lib/reportMix.js';
import type { BenchContext, Figure, Scenario } from '../lib/types.js';

const run = promisify(execFile);
const MAX_MESSAGE_BYTES = 10 * 2 ** 20; // MAX_MESSAGE_SIZE's default
const LARGE_MAIL_BYTES = 3 * 2 ** 20;
/** In the big file: one large mail every this many report mails, and one over MAX_MESSAGE_SIZE per 50 large ones. */
const REPORTS_PER_LARGE_MAIL = 20;
const LARGE_PER_OVERSIZED = 50;

interface ProbeResult {
  code: number;
  seconds: number;
  messages: number;
  stored: number;
  quarantined: number;
  tooLarge: number;
  peakRssMB: number;
  cpuSeconds: number;
  /** CPU seconds of PostgreSQL for the bench's database while the probe ran (backends sampled, see sampleServiceCpu). */
  postgresCpuSeconds: number;
  summary: string;
  stderr: string;
}

function envNumber(name: string, fallback: number): number {
  const v = process.env[name]?.trim();
  if (!v) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!(n > 0)) throw new Error(`${name}="${v}" is not a positive number`);
  return n;
}

async function write(out: WriteStream, bytes: Buffer): Promise<void> {
  if (!out.write(bytes)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

async function close(out: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

function reportMail(rand: () => number, tag: string, i: number): Buffer {
  const r = buildMixedReport(rand, tag, i);
  const policies = r.report.policies as Array<{ policy: Record<string, unknown> }>;
  return buildReportMail({
    report: r.report,
    submitter: r.submitter,
    policyDomain: policies[0]!.policy['policy-domain'] as string,
    reportId: r.report['report-id'] as string,
  });
}

/** Ordinary mail with a base64 attachment of `bytes` (its own Message-ID, so its bytes are unique). */
function largeMail(body64: string, i: number, tag: string): Buffer {
  return Buffer.from(
    [
      'From: someone@example.org',
      'To: postmaster@example.com',
      `Subject: scans ${i}`,
      `Message-ID: <large-${tag}-${i}@example.org>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'The scans you asked for.',
      '--b1',
      'Content-Type: application/pdf; name="scan.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      body64,
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

/** `count` report mails in one mbox. */
export async function writeReportMbox(path: string, count: number, tag: string): Promise<void> {
  const rand = createRandom(8460);
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) await write(out, writeMboxrd([reportMail(rand, tag, i)]));
  await close(out);
}

/** An mbox of about `bytes`: report mails among large mail. Returns how many of each it holds. */
export async function writeLargeMbox(
  path: string,
  bytes: number,
  tag: string,
): Promise<{ reports: number; large: number; oversized: number }> {
  const rand = createRandom(14);
  const body64 = (size: number) =>
    randomBytes(Math.floor((size * 3) / 4))
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
  const large64 = body64(LARGE_MAIL_BYTES);
  const oversized64 = body64(MAX_MESSAGE_BYTES + 2 ** 20);
  const out = createWriteStream(path);
  let written = 0;
  const counts = { reports: 0, large: 0, oversized: 0 };
  while (written < bytes) {
    for (let k = 0; k < REPORTS_PER_LARGE_MAIL; k++) {
      const m = writeMboxrd([reportMail(rand, tag, counts.reports++)]);
      written += m.length;
      await write(out, m);
    }
    const oversized = counts.large > 0 && counts.large % LARGE_PER_OVERSIZED === 0 && counts.oversized < counts.large / LARGE_PER_OVERSIZED;
    const m = writeMboxrd([largeMail(oversized ? oversized64 : large64, counts.large + counts.oversized, tag)]);
    if (oversized) counts.oversized++;
    else counts.large++;
    written += m.length;
    await write(out, m);
  }
  await close(out);
  return counts;
}

/**
 * PostgreSQL's CPU while `during` runs, for the bench's database. The command's backends exit with it, so
 * the processes are read every second and each one's last reading counts (serviceCpuSince alone would miss
 * them); at most the last second of a backend's CPU is lost.
 */
async function postgresCpuDuring<T>(ctx: BenchContext, during: Promise<T>): Promise<{ value: T; postgresCpuSeconds: number }> {
  const start = await serviceCpuFor(ctx.db);
  let last = start;
  const seen = new Map<number, { name: 'postgres' | 'redis'; ms: number }>(start.cpu);
  const foreign = new Set(start.foreign);
  const sample = async () => {
    last = await serviceCpuFor(ctx.db);
    for (const [pid, v] of last.cpu) seen.set(pid, v);
    for (const pid of last.foreign) foreign.add(pid);
  };
  const timer = setInterval(() => void sample().catch(() => undefined), 1000);
  try {
    const value = await during;
    await sample();
    const used = serviceCpuDelta(start.cpu, seen, foreign);
    return { value, postgresCpuSeconds: used.postgres / 1000 };
  } finally {
    clearInterval(timer);
  }
}

async function probe(ctx: BenchContext, file: string): Promise<ProbeResult> {
  // BENCH_NODE_ARGS (e.g. --cpu-prof) reach the command's process, as for the other scenarios' processes.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const { value, postgresCpuSeconds } = await postgresCpuDuring(
    ctx,
    run(process.execPath, [...nodeArgs, '--import', 'tsx', projectPath('bench/scenarios/ingestProbe.ts'), file], {
      env: { ...process.env, ...ctx.tlsrptEnv, LOG_LEVEL: 'warn', MAX_MESSAGE_SIZE: String(MAX_MESSAGE_BYTES) },
      maxBuffer: 16 << 20,
    }),
  );
  const r = { ...(JSON.parse(value.stdout.trim().split('\n').pop()!) as ProbeResult), postgresCpuSeconds };
  if (r.code !== 0) throw new Error(`tlsrpt ingest exited with ${r.code}: ${r.summary}\n${r.stderr}`);
  return r;
}

export const ingestScenario: Scenario = {
  name: 'ingest',
  describe: 'backfill: tlsrpt ingest of a generated mbox (messages/s, peak RSS), and of a multi-gigabyte one (peak RSS)',
  async run(ctx) {
    const cases = (process.env.BENCH_INGEST_CASES ?? 'messages,gb').split(',').map((s) => s.trim());
    const messages = ctx.settings.smoke ? 200 : envNumber('BENCH_INGEST_MESSAGES', 100_000);
    const gigabytes = ctx.settings.smoke ? 0.02 : envNumber('BENCH_INGEST_GB', 5);
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-bench-ingest-'));
    const figures: Figure[] = [];
    try {
      if (cases.includes('messages')) {
        const rates: number[] = [];
        const peaks: number[] = [];
        const loads: number[] = [];
        const cpuIngest: number[] = [];
        const cpuPostgres: number[] = [];
        for (let i = 0; i < ctx.settings.runs; i++) {
          await ctx.db.truncate();
          const file = join(dir, `reports-${i}.mbox`);
          ctx.log(`  writing ${messages} report mails to ${file}`);
          await writeReportMbox(file, messages, `ingest-${process.pid}-${i}`);
          const r = await probe(ctx, file);
          rmSync(file, { force: true });
          if (r.stored !== messages) throw new Error(`ingest stored ${r.stored} of ${messages} reports:\n${r.summary}`);
          rates.push(messages / r.seconds);
          peaks.push(r.peakRssMB);
          loads.push(loadavg()[0]!);
          cpuIngest.push((r.cpuSeconds * 1e6) / messages);
          cpuPostgres.push((r.postgresCpuSeconds * 1e6) / messages);
          ctx.log(
            `  ${messages} messages in ${r.seconds.toFixed(1)} s: ${(messages / r.seconds).toFixed(0)}/s, peak ${r.peakRssMB.toFixed(0)} MB, ` +
              `CPU per 1,000 messages: ingest ${cpuIngest.at(-1)!.toFixed(0)} ms, PostgreSQL ${cpuPostgres.at(-1)!.toFixed(0)} ms, ` +
              `load average ${loadavg()[0]!.toFixed(1)}`,
          );
        }
        figures.push({
          scenario: 'ingest',
          name: `tlsrpt ingest, ${messages} report mails in one mbox`,
          unit: 'messages/s',
          runs: rates,
          value: median(rates),
          extra: {
            peakRssMB: median(peaks),
            ingestCpuMsPer1000: median(cpuIngest),
            postgresCpuMsPer1000: median(cpuPostgres),
            loadAverage1m: median(loads),
          },
          settings: { messages },
          target: '>= 1500',
        });
      }
      if (cases.includes('gb')) {
        await ctx.db.truncate();
        const file = join(dir, 'large.mbox');
        ctx.log(`  writing a ${gigabytes} GB mbox to ${file}`);
        const counts = await writeLargeMbox(file, gigabytes * 1e9, `ingest-gb-${process.pid}`);
        const fileGB = statSync(file).size / 1e9;
        const r = await probe(ctx, file);
        rmSync(file, { force: true });
        const expected = counts.reports + counts.large + counts.oversized;
        if (r.messages !== expected || r.tooLarge !== counts.oversized) {
          throw new Error(
            `ingest read ${r.messages} messages (${r.tooLarge} too large); expected ${expected} (${counts.oversized}):\n${r.summary}`,
          );
        }
        ctx.log(
          `  ${fileGB.toFixed(2)} GB, ${r.messages} messages in ${r.seconds.toFixed(1)} s: peak ${r.peakRssMB.toFixed(0)} MB, ` +
            `CPU ingest ${r.cpuSeconds.toFixed(0)} s, PostgreSQL ${r.postgresCpuSeconds.toFixed(0)} s, load average ${loadavg()[0]!.toFixed(1)}`,
        );
        figures.push({
          scenario: 'ingest',
          name: `tlsrpt ingest, a ${fileGB.toFixed(1)} GB mbox (report mails among 3 MiB mail)`,
          unit: 'MB peak RSS',
          runs: [r.peakRssMB],
          value: r.peakRssMB,
          extra: {
            fileGB,
            messages: r.messages,
            messagesPerS: r.messages / r.seconds,
            mbPerS: (fileGB * 1000) / r.seconds,
            ingestCpuSeconds: r.cpuSeconds,
            postgresCpuSeconds: r.postgresCpuSeconds,
            loadAverage1m: loadavg()[0]!,
          },
          settings: { gigabytes, reports: counts.reports, largeMails: counts.large, oversized: counts.oversized },
          target: '< 300',
        });
      }
      return figures;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
