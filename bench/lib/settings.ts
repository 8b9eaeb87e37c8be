/**
 * Benchmark settings, read once from BENCH_* variables. These are not deployment configuration (they never
 * reach src/config/loadConfig.ts): they only size the bench. Services are found like the tests find them.
 */
export interface BenchSettings {
  /** Tiny sizes and one run: keeps the script working inside `npm test`. */
  smoke: boolean;
  /** Runs per figure; the table shows the median. */
  runs: number;
  /** Reports per SMTP / worker-only run. */
  reports: number;
  /** Connections for the reused-connection case; connections in flight for the new-connection cases. */
  reusedConnections: number;
  newConnections: number;
  /** Reports timed stage by stage, in-process. */
  stageReports: number;
  /** Failure-detail rows generated for the scale scenario. */
  scaleRows: number;
  /** Failure details in the large report of the memory scenario. */
  memoryDetails: number;
  /** Sub-folders of the certbot-style MTA_STS_CERT_DIR the certs scenario loads. */
  certificates: number;
  /** Scenario names to run (comma list); empty = all. */
  only: string[];
  /** End-to-end cases to run: each a substring of "sender; topology" (comma list); empty = all. */
  e2eCases: string[];
  /** Scale-out layouts added to the end-to-end topologies (BENCH_LAYOUTS, e.g. "1r+2w,2r+2w"). */
  layouts: Layout[];
  pgUrlBase: string;
  redisUrl: string;
  resultsPath: string;
}

/** A process layout: `receivers` x (`tlsrpt receiver` [+ `tlsrpt http`]) and `workers` x `tlsrpt worker`. */
export interface Layout {
  receivers: number;
  workers: number;
}

type Env = Record<string, string | undefined>;

/** "1r+2w" -> { receivers: 1, workers: 2 }. */
export function parseLayout(text: string): Layout {
  const m = /^([1-9][0-9]?)r\+([1-9][0-9]?)w$/.exec(text.trim());
  if (!m) throw new Error(`BENCH_LAYOUTS: "${text}" is not a layout like 1r+2w (receivers + workers)`);
  return { receivers: Number(m[1]), workers: Number(m[2]) };
}

function int(env: Env, name: string, fallback: number): number {
  const v = env[name]?.trim();
  if (!v) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}="${v}" is not a whole number`);
  return n;
}

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadBenchSettings(env: Env = process.env): BenchSettings {
  const smoke = env.BENCH_SMOKE === '1';
  return {
    smoke,
    runs: int(env, 'BENCH_RUNS', smoke ? 1 : 3),
    reports: int(env, 'BENCH_REPORTS', smoke ? 40 : 4000),
    reusedConnections: int(env, 'BENCH_REUSED_CONNECTIONS', 16),
    newConnections: int(env, 'BENCH_NEW_CONNECTIONS', smoke ? 8 : 128),
    stageReports: int(env, 'BENCH_STAGE_REPORTS', smoke ? 20 : 2000),
    scaleRows: int(env, 'BENCH_SCALE_ROWS', smoke ? 2000 : 10_000_000),
    memoryDetails: int(env, 'BENCH_MEMORY_DETAILS', smoke ? 1000 : 100_000),
    certificates: int(env, 'BENCH_CERTIFICATES', smoke ? 5 : 1000),
    only: list(env.BENCH_ONLY),
    e2eCases: list(env.BENCH_E2E),
    layouts: list(env.BENCH_LAYOUTS).map(parseLayout),
    pgUrlBase: env.BENCH_DATABASE_URL_BASE ?? 'postgresql://postgres@127.0.0.1:5432',
    redisUrl: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    resultsPath: env.BENCH_RESULTS ?? new URL('../results.json', import.meta.url).pathname,
  };
}
