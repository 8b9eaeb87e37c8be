/**
 * What the bench owns and removes afterwards: a database of its own (tlsrpt_bench_<pid>, created and
 * migrated by src/db/migrate.ts), a Redis key prefix of its own, a throw-away STARTTLS certificate, and the
 * `tlsrpt` processes it starts. It never touches a deployment's database or queue.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { projectPath } from '../../src/util/projectPath.js';
import { makeCertificate } from '../../test/helpers/certificates.js';
import type { BenchSettings } from './settings.js';

export interface BenchDatabase {
  name: string;
  url: string;
  pool: Pool;
  /** Empties every table, so each run starts from an empty database. */
  truncate(): Promise<void>;
  drop(): Promise<void>;
}

async function admin<T>(base: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: `${base}/postgres` });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createBenchDatabase(settings: BenchSettings, suffix = ''): Promise<BenchDatabase> {
  const name = `tlsrpt_bench_${process.pid}${suffix}`;
  const url = `${settings.pgUrlBase}/${name}`;
  await admin(settings.pgUrlBase, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
  await migrate(url);
  const pool = createPool(url, { max: 8, applicationName: 'tlsrpt-bench' });
  return {
    name,
    url,
    pool,
    truncate: async () => {
      // The processes under test keep working between runs (the alert service evaluates windows that
      // reference reports), so TRUNCATE can lose a deadlock to them: retry, it wins once they are idle.
      for (let attempt = 1; ; attempt++) {
        try {
          // report_identities: the dedupe of every report ever stored (migrations/0013), emptied with them.
          await pool.query('TRUNCATE raw_messages, reports, policies, failure_details, report_identities CASCADE');
          // The rollups outlive the rows they count (migrations/0012): empty them too, for the next run.
          await pool.query(`TRUNCATE rollup_queue, rollup_refresh_days, daily_session_totals, daily_domain_totals,
                                     daily_failure_totals, metric_session_totals, metric_failure_totals`);
          await pool.query(`UPDATE rollup_state SET reports_stored = 0, message_mark = 0, message_totals = NULL, details_kept_from = NULL`);
          return;
        } catch (err) {
          if ((err as { code?: string }).code !== '40P01' || attempt >= 10) throw err;
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    },
    drop: async () => {
      if (!pool.ending) await pool.end(); // end() rejects only when called twice
      await admin(settings.pgUrlBase, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
    },
  };
}

export interface TlsFiles {
  certPath: string;
  keyPath: string;
  remove(): void;
}

/** ECDSA P-256, as modern MTAs use: its handshake costs the receiver a fraction of an RSA-2048 one. */
export function createTlsFiles(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-bench-tls-'));
  const { cert, key } = makeCertificate('localhost', { key: 'ec' });
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
  return { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TlsrptProcess {
  child: ChildProcess;
  pid: number;
  /** The port of each listener the process logged, by log message ("SMTP receiver listening", ...). */
  ports: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * Starts `tlsrpt <command>` (through tsx, as `npm run tlsrpt` does) and resolves once it has logged every
 * message of `readyMsgs`. Its JSON log lines are read for the ports; anything at warn or above is echoed
 * to stderr.
 */
export function startTlsrpt(command: string, env: Record<string, string>, readyMsgs: string | string[]): Promise<TlsrptProcess> {
  // BENCH_NODE_ARGS: node flags for the processes under test, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', projectPath('src/cli/main.ts'), command], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const waiting = new Set(Array.isArray(readyMsgs) ? readyMsgs : [readyMsgs]);
  return new Promise((resolve, reject) => {
    const ports: Record<string, number> = {};
    let ready = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`tlsrpt ${command} exited with ${code} before it was ready`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { msg?: string; port?: number; level?: number };
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if ((entry.level ?? 0) >= 40) process.stderr.write(`[tlsrpt ${command}] ${line}\n`);
      if (entry.msg === undefined) return;
      if (typeof entry.port === 'number') ports[entry.msg] = entry.port;
      waiting.delete(entry.msg);
      if (!ready && waiting.size === 0) {
        ready = true;
        resolve({
          child,
          pid: child.pid!,
          ports,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
  });
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU milliseconds from the text of /proc/<pid>/stat (utime and stime, after the command name). */
function statCpuMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** CPU milliseconds (user + system) a process has used so far, from /proc. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return statCpuMs(stat);
}

/**
 * CPU milliseconds used so far by the machine's PostgreSQL and Redis server processes, per process, so
 * that a run can say how much of the machine the services took per report (they share both cores with the
 * pipeline). Processes started during a run count whole; ones that exit during it are missed (the pools
 * keep their connections, so there are few).
 */
export type ServiceCpu = Map<number, { name: 'postgres' | 'redis'; ms: number }>;

export function serviceCpu(): ServiceCpu {
  const out: ServiceCpu = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const name = comm === 'postgres' ? 'postgres' : comm === 'redis-server' ? 'redis' : null;
    if (!name) continue;
    out.set(Number(entry), { name, ms: statCpuMs(stat) });
  }
  return out;
}

/**
 * The PostgreSQL processes that work for other databases: client backends and autovacuum workers connected
 * to a database other than `database`. On a machine shared with other work (tests of other checkouts, a
 * deployment) they would otherwise count as the bench's. The server's own processes (WAL writer,
 * checkpointer, background writer) have no database and stay counted: they serve the bench's writes too.
 */
export async function foreignBackends(pool: Pool, database: string): Promise<Set<number>> {
  const r = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> $1`, [database]);
  return new Set(r.rows.map((row) => row.pid));
}

/**
 * CPU ms each service used between two serviceCpu() readings, leaving out the processes in `exclude`
 * (foreignBackends read at both ends). Redis is one shared process: its figure includes whatever else
 * uses it meanwhile.
 */
export function serviceCpuDelta(
  before: ServiceCpu,
  after: ServiceCpu,
  exclude: ReadonlySet<number> = new Set(),
): { postgres: number; redis: number } {
  const out = { postgres: 0, redis: 0 };
  for (const [pid, now] of after) if (!exclude.has(pid)) out[now.name] += now.ms - (before.get(pid)?.ms ?? 0);
  return out;
}

/** serviceCpu() with the foreign backends of the moment, for serviceCpuSince. */
export async function serviceCpuFor(db: { pool: Pool; name: string }): Promise<{ cpu: ServiceCpu; foreign: Set<number> }> {
  const foreign = await foreignBackends(db.pool, db.name);
  return { cpu: serviceCpu(), foreign };
}

/** The services' CPU between two serviceCpuFor readings, for the bench's database only (see foreignBackends). */
export async function serviceCpuSince(
  db: { pool: Pool; name: string },
  start: { cpu: ServiceCpu; foreign: Set<number> },
): Promise<{ postgres: number; redis: number }> {
  const end = await serviceCpuFor(db);
  return serviceCpuDelta(start.cpu, end.cpu, new Set([...start.foreign, ...end.foreign]));
}

/** Busy and total CPU milliseconds of the whole machine so far (every core), from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: ((total - idle) * 1000) / CLOCK_TICKS, total: (total * 1000) / CLOCK_TICKS };
}

/** This process's CPU milliseconds so far. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
