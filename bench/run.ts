/**
 * `npm run bench`: runs each scenario against a database and Redis prefix of its own, prints a table and
 * writes bench/results.json. Needs only the local PostgreSQL and Redis. Settings: bench/lib/settings.ts
 * (BENCH_* variables; README "Benchmarks").
 *
 * To add a scenario, append it to SCENARIOS; to add a way of sending reports to the end-to-end figures,
 * add a Sender in bench/scenarios/endToEnd.ts.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { clearQueuePrefix } from '../test/helpers/testConfig.js';
import { createBenchDatabase, createTlsFiles } from './lib/benchEnv.js';
import { loadBenchSettings } from './lib/settings.js';
import type { BenchContext, Figure, Scenario } from './lib/types.js';
import { endToEndScenario } from './scenarios/endToEnd.js';
import { workerOnlyScenario } from './scenarios/workerOnly.js';
import { stagesScenario } from './scenarios/stages.js';
import { scaleScenario } from './scenarios/scale.js';
import { memoryScenario } from './scenarios/memory.js';
import { ingestScenario } from './scenarios/ingest.js';
import { scrapeScenario } from './scenarios/scrape.js';
import { dashboardScenario } from './scenarios/dashboard.js';
import { imapFirstSyncScenario } from './scenarios/imapFirstSync.js';
import { certificatesScenario } from './scenarios/certificates.js';

export const SCENARIOS: Scenario[] = [
  endToEndScenario,
  workerOnlyScenario,
  stagesScenario,
  scaleScenario,
  scrapeScenario,
  memoryScenario,
  ingestScenario,
  dashboardScenario,
  imapFirstSyncScenario,
  certificatesScenario,
];

export async function runBench(): Promise<Figure[]> {
  const settings = loadBenchSettings();
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  const queuePrefix = `tlsrpt-bench-${process.pid}`;
  const db = await createBenchDatabase(settings);
  const tls = createTlsFiles();
  const ctx: BenchContext = {
    settings,
    db,
    queuePrefix,
    tls,
    log,
    tlsrptEnv: {
      DATABASE_URL: db.url,
      REDIS_URL: settings.redisUrl,
      QUEUE_PREFIX: queuePrefix,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: '0',
      SMTP_SERVER_NAME: 'bench.localhost',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      // Every POST comes from one address here; the per-client limit would measure itself.
      HTTP_RATE_LIMIT_PER_MINUTE: '0',
      // Likewise every SMTP connection, which stand for many senders: no per-address connection limit.
      SMTP_MAX_CONNECTIONS_PER_CLIENT: '0',
      TLS_CERT: tls.certPath,
      TLS_KEY: tls.keyPath,
      SHUTDOWN_TIMEOUT_SECONDS: '10',
    },
  };
  const figures: Figure[] = [];
  const cleanup = async () => {
    await clearQueuePrefix(queuePrefix, settings.redisUrl).catch((err) => log(`could not clear ${queuePrefix}: ${(err as Error).message}`));
    await db.drop().catch((err) => log(`could not drop ${db.name}: ${(err as Error).message}`));
    tls.remove();
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    for (const scenario of SCENARIOS) {
      if (settings.only.length && !settings.only.includes(scenario.name)) continue;
      log(`== ${scenario.name}: ${scenario.describe}`);
      await db.truncate();
      await clearQueuePrefix(queuePrefix, settings.redisUrl);
      figures.push(...(await scenario.run(ctx)));
    }
  } finally {
    await cleanup();
  }
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version };
  writeFileSync(settings.resultsPath, JSON.stringify({ at: new Date().toISOString(), machine, settings, figures }, null, 2));
  process.stdout.write(formatTable(figures));
  process.stdout.write(
    `\n(${machine.cpus} cores, ${machine.cpuModel}, Node ${machine.node}; median of ${settings.runs} run(s); written to ${settings.resultsPath})\n`,
  );
  return figures;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function formatTable(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.scenario,
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.target ?? '',
    Object.entries(f.extra)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(' '),
  ]);
  const head = ['scenario', 'figure', 'median', 'target', 'details'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runBench().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
