/** The shape every scenario reports in, so the runner prints and saves them alike. */
import type { BenchDatabase, TlsFiles } from './benchEnv.js';
import type { BenchSettings } from './settings.js';

export interface Figure {
  scenario: string;
  /** What was measured, e.g. "SMTP reused connections, serve (1 process)". */
  name: string;
  unit: string;
  /** The value of each run; `value` is their median. */
  runs: number[];
  value: number;
  /** Side figures, each the median over the runs (latency percentiles, CPU per report, ...). */
  extra: Record<string, number>;
  settings: Record<string, string | number | boolean>;
  /** The target from issue 8, when there is one, e.g. ">= 1000". */
  target?: string;
}

export interface BenchContext {
  settings: BenchSettings;
  /** The bench's own database (empty at the start of each scenario). */
  db: BenchDatabase;
  /** The bench's own Redis key prefix. */
  queuePrefix: string;
  tls: TlsFiles;
  /** Env for `tlsrpt` processes started by the bench: its database, its prefix, loopback, port 0. */
  tlsrptEnv: Record<string, string>;
  log(msg: string): void;
}

export interface Scenario {
  name: string;
  describe: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}
