/**
 * Removes what retention says is old enough (README "Retention"), never the daily totals: the views, the
 * readiness verdict and /metrics read those, so they keep the days whose details are gone.
 *
 * - Raw bytes of settled messages received more than RETENTION_RAW_DAYS ago: set to NULL, the row stays.
 * - Quarantined messages received more than RETENTION_QUARANTINE_DAYS ago: deleted, row and bytes (a
 *   quarantined message without its bytes could not be reprocessed).
 * - Settled message rows received more than RETENTION_REPORT_DAYS ago: deleted.
 * - Reports, policies and failure details: each month whose last day is more than RETENTION_REPORT_DAYS
 *   ago is detached from its table and dropped (migrations/0013), never deleted row by row.
 * Pending messages are never touched.
 *
 * Nothing here holds a lock that ingestion waits for: rows go in batches of short statements on rows no
 * worker or receiver touches any more (settled or old), and a month goes with DETACH PARTITION ...
 * CONCURRENTLY, which waits for the queries using it instead of stopping new ones. The caller runs one
 * prune at a time (./retentionJob.ts, `tlsrpt prune`: an advisory lock).
 */
import pg from 'pg';
import type { PoolClient } from '../db/pool.js';
import { TRANSITIONS } from '../store/messageState.js';
import { PARTITIONED_TABLES } from './ensurePartitions.js';
import { monthsToDrop, retentionCutoffs, type MonthPartition, type RetentionCutoffs, type RetentionSettings } from './retentionPlan.js';

export interface PruneOptions {
  /** Count what would go; change nothing. */
  dryRun?: boolean;
  now?: Date;
  /** Rows per statement: each is a short transaction. */
  batchSize?: number;
  /** Progress, for the workers' log and the command's stderr. */
  progress?: (message: string) => void;
  /** A stopping worker: the prune ends after the statement in progress, and the next one starts over. */
  signal?: AbortSignal;
}

export interface PrunedMonth {
  /** "2025-10" (UTC). */
  month: string;
  partitions: string[];
  reports: number;
  /** Disk space of its partitions, indexes and TOAST included. */
  bytes: number;
}

export interface PruneSummary {
  dryRun: boolean;
  cutoffs: RetentionCutoffs;
  /** Settled messages whose raw bytes were removed (size_bytes summed). */
  rawBytes: { messages: number; bytes: number };
  /** Quarantined messages removed. */
  quarantined: { messages: number; bytes: number };
  /** Rows of settled messages removed. */
  messageRows: { messages: number };
  months: PrunedMonth[];
  /** Months old enough but kept, and why (their reports are not all in the daily totals yet). */
  heldBack: Array<{ month: string; why: string }>;
}

const SETTLED: readonly string[] = TRANSITIONS.settle.to;

interface Step {
  batch: number;
  dryRun: boolean;
  signal: AbortSignal | undefined;
}

/**
 * Runs on `client`, outside any transaction (DETACH ... CONCURRENTLY cannot run inside one). The caller
 * holds the retention lock on the same connection.
 */
export async function pruneData(client: PoolClient, settings: RetentionSettings, options: PruneOptions = {}): Promise<PruneSummary> {
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? new Date();
  const batch = options.batchSize ?? 1000;
  const progress = options.progress ?? ignore;
  const signal = options.signal;
  const cutoffs = retentionCutoffs(settings, now);
  const summary: PruneSummary = {
    dryRun,
    cutoffs,
    rawBytes: { messages: 0, bytes: 0 },
    quarantined: { messages: 0, bytes: 0 },
    messageRows: { messages: 0 },
    months: [],
    heldBack: [],
  };

  if (!dryRun) await finishInterruptedDetaches(client, cutoffs.reports, progress);

  if (cutoffs.raw) summary.rawBytes = await pruneRawBytes(client, cutoffs.raw, { batch, dryRun, signal });
  if (summary.rawBytes.messages > 0)
    progress(`raw bytes of ${summary.rawBytes.messages} settled messages ${dryRun ? 'to remove' : 'removed'}`);

  if (cutoffs.quarantine) summary.quarantined = await pruneQuarantined(client, cutoffs.quarantine, { batch, dryRun, signal });
  if (summary.quarantined.messages > 0)
    progress(`${summary.quarantined.messages} quarantined messages ${dryRun ? 'to remove' : 'removed'}`);

  if (cutoffs.reports) summary.messageRows = await pruneMessageRows(client, cutoffs.reports, { batch, dryRun, signal });
  if (summary.messageRows.messages > 0) progress(`${summary.messageRows.messages} message rows ${dryRun ? 'to remove' : 'removed'}`);

  const cascades = (
    await client.query<{ referencing_table: string; referencing_column: string; referenced_table: string }>(
      `SELECT referencing_table, referencing_column, referenced_table FROM retention_cascades ORDER BY 1, 2`,
    )
  ).rows;
  for (const [month, partitions] of monthsToDrop(await listPartitions(client), cutoffs.reports)) {
    if (signal?.aborted) break;
    const reports = partitions.find((p) => p.parent === 'reports');
    const held = reports ? await unfolded(client, reports.name) : null;
    if (held) {
      summary.heldBack.push({ month, why: held });
      continue;
    }
    const size = await client.query<{ reports: string; bytes: string }>(
      `SELECT ${reports ? `(SELECT count(*) FROM ${quoteIdent(reports.name)})` : '0'} AS reports,
              (SELECT coalesce(sum(pg_total_relation_size(c::regclass)), 0) FROM unnest($1::text[]) AS c) AS bytes`,
      [partitions.map((p) => p.name)],
    );
    const pruned: PrunedMonth = {
      month,
      partitions: partitions.map((p) => p.name),
      reports: Number(size.rows[0]!.reports),
      bytes: Number(size.rows[0]!.bytes),
    };
    if (!dryRun) {
      if (reports) await keepRollupsOf(client, reports.name);
      // The rows that a foreign key used to delete with these (alert_window_reports, the reports each alert
      // window covered, and any table recorded since): the keys went with the partitioning (migrations/0013).
      for (const c of cascades) {
        const part = partitions.find((p) => p.parent === c.referenced_table);
        if (!part) continue;
        await client.query(
          `DELETE FROM ${quoteIdent(c.referencing_table)} WHERE ${quoteIdent(c.referencing_column)} IN (SELECT id FROM ${quoteIdent(part.name)})`,
        );
      }
      for (const p of orderForDrop(partitions)) await dropPartition(client, p.parent, p.name, false);
      progress(`month ${month} dropped: ${pruned.reports} reports, ${pruned.partitions.join(', ')}`);
    }
    summary.months.push(pruned);
  }

  if (!dryRun && !signal?.aborted) {
    // Autovacuum analyzes each month partition but never the partitioned tables themselves, whose
    // statistics the planner uses for the joins of the views: gather them once a day, here. It reads a
    // sample, and its lock (SHARE UPDATE EXCLUSIVE) does not hold off inserts or queries.
    // Not while nothing is stored: statistics of empty tables would stay until tomorrow's run, and plans made
    // on them read whole months as the first reports arrive (without statistics the planner sizes the
    // partitioned tables from their partitions instead).
    const stored = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM reports) AS any`);
    if (stored.rows[0]!.any) {
      progress('updating the planner statistics of the partitioned tables (paced: with a year stored, a minute or so)');
      await analyzeYielding(client, PARTITIONED_TABLES);
    }
  }

  // An interrupted prune is not recorded: the next check runs it again.
  if (!dryRun && !signal?.aborted) {
    await client.query(
      `INSERT INTO retention_runs (finished_at, summary) VALUES (now(), $1)
       ON CONFLICT (singleton) DO UPDATE SET finished_at = excluded.finished_at, summary = excluded.summary`,
      [JSON.stringify(summary)],
    );
  }
  return summary;
}

/**
 * PostgreSQL 15 cannot ANALYZE a partitioned table without analyzing each of its partitions again: with the
 * scale bench's year stored, some 7 s of CPU in one go, taken from the workers (they stored 72 % of their rate
 * meanwhile). Paced the way autovacuum paces itself (a pause of ANALYZE_COST_DELAY_MS each time it has read
 * ANALYZE_COST_LIMIT pages' worth), it took 40 s instead of 7 and left the CPU to ingestion. Nothing waits
 * for it: the statistics are only due by tomorrow's run.
 */
async function analyzeYielding(client: PoolClient, tables: readonly string[]): Promise<void> {
  await client.query(`SET vacuum_cost_delay = '${ANALYZE_COST_DELAY_MS}ms'`);
  await client.query(`SET vacuum_cost_limit = ${ANALYZE_COST_LIMIT}`);
  try {
    await client.query(`ANALYZE ${tables.map(quoteIdent).join(', ')}`);
  } finally {
    await client.query(`RESET vacuum_cost_delay`);
    await client.query(`RESET vacuum_cost_limit`);
  }
}

/** Five times autovacuum's default pause (autovacuum_vacuum_cost_delay 2 ms per 200): a prune has all day. */
const ANALYZE_COST_DELAY_MS = 10;
const ANALYZE_COST_LIMIT = 200;

/** When the last prune finished, or null when none has. */
export async function lastPruneFinishedAt(client: PoolClient): Promise<Date | null> {
  const res = await client.query<{ finished_at: Date }>(`SELECT finished_at FROM retention_runs`);
  return res.rows[0]?.finished_at ?? null;
}

/** The month partitions of the partitioned tables, from the catalog. */
async function listPartitions(client: PoolClient): Promise<MonthPartition[]> {
  const res = await client.query<{ parent: string; name: string; from_at: Date; to_at: Date }>(
    `SELECT p.relname AS parent, c.relname AS name,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS from_at,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS to_at
     FROM pg_inherits i
     JOIN pg_class p ON p.oid = i.inhparent
     JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) AS t) AND NOT i.inhdetachpending`,
    [PARTITIONED_TABLES],
  );
  return res.rows.map((r) => ({ parent: r.parent, name: r.name, from: r.from_at, to: r.to_at }));
}

/**
 * Why a month's reports cannot go yet, or null: the rollup job has not folded all of them into the daily
 * totals (its queue, when this version has one, still names some), and dropping them now would lose them.
 */
async function unfolded(client: PoolClient, reportsPartition: string): Promise<string | null> {
  const queue = await client.query<{ t: string | null }>(`SELECT to_regclass('rollup_queue') AS t`);
  if (!queue.rows[0]?.t) return null;
  const res = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM rollup_queue q WHERE EXISTS (SELECT 1 FROM ${quoteIdent(reportsPartition)} r WHERE r.id = q.report_id)`,
  );
  const n = Number(res.rows[0]!.n);
  return n > 0 ? `${n} of its reports are not in the daily totals yet; the next prune drops it once they are` : null;
}

/**
 * Before a month's reports go: moves rollup_state.details_kept_from past their last day (report_day()), so
 * that refresh_daily_totals(), and the definitions when a rule changes, never recompute those days from the
 * details that remain and leave their rollups as the only record of them (migrations/0012). Under the
 * rollup lock: a recomputation in progress ends first, and every later one sees the new day.
 */
async function keepRollupsOf(client: PoolClient, reportsPartition: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(rollup_lock_key())');
    await client.query(
      `UPDATE rollup_state
       SET details_kept_from = greatest(details_kept_from,
                                        (SELECT max(report_day(r.start_at, r.end_at)) + 1 FROM ${quoteIdent(reportsPartition)} r))`,
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

/** reports first: from then on the month's policies and details are no longer joined to anything. */
function orderForDrop(partitions: readonly MonthPartition[]): MonthPartition[] {
  return [...partitions].sort((a, b) => PARTITIONED_TABLES.indexOf(a.parent as never) - PARTITIONED_TABLES.indexOf(b.parent as never));
}

/**
 * DETACH ... CONCURRENTLY: it takes only a SHARE UPDATE EXCLUSIVE lock on the table and waits for the
 * transactions that may still read the partition, so inserts and queries go on meanwhile. Then the
 * detached table, no longer part of anything, is dropped.
 */
async function dropPartition(client: PoolClient, parent: string, name: string, pending: boolean): Promise<void> {
  await client.query(`ALTER TABLE ${quoteIdent(parent)} DETACH PARTITION ${quoteIdent(name)} ${pending ? 'FINALIZE' : 'CONCURRENTLY'}`);
  await client.query(`DROP TABLE ${quoteIdent(name)}`);
}

/**
 * A prune stopped between its steps leaves a partition whose detach is pending (finished with FINALIZE), or
 * a detached month partition not yet dropped: both were due to go, and go now.
 */
async function finishInterruptedDetaches(client: PoolClient, reportsCutoff: Date | null, progress: (m: string) => void): Promise<void> {
  const pending = await client.query<{ parent: string; name: string }>(
    `SELECT p.relname AS parent, c.relname AS name
     FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhdetachpending AND i.inhparent = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)`,
    [PARTITIONED_TABLES],
  );
  for (const p of pending.rows) {
    await dropPartition(client, p.parent, p.name, true);
    progress(`finished dropping ${p.name} (a prune was interrupted)`);
  }
  if (!reportsCutoff) return;
  // Month tables of ours that are no longer partitions: detached by a prune that stopped before DROP.
  const leftovers = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
       AND c.relname ~ ('^(' || array_to_string($1::text[], '|') || ')_[0-9]{4}_[0-9]{2}$')
       AND to_date(right(c.relname, 7), 'YYYY_MM') + interval '1 month' <= $2::timestamptz`,
    [PARTITIONED_TABLES, reportsCutoff],
  );
  for (const l of leftovers.rows) {
    await client.query(`DROP TABLE ${quoteIdent(l.name)}`);
    progress(`dropped ${l.name} (detached by an interrupted prune)`);
  }
}

/**
 * The first id of a message received at or after `cutoff` (ids grow with time, closely enough: a batch
 * ends there, and the few received earlier with a higher id go the next day).
 */
async function firstIdFrom(client: PoolClient, cutoff: Date, onlyWithBytes: boolean): Promise<number> {
  const res = await client.query<{ id: string }>(
    `SELECT coalesce(
       (SELECT id FROM raw_messages WHERE ${onlyWithBytes ? 'raw IS NOT NULL AND' : ''} received_at >= $1 ORDER BY id LIMIT 1),
       (SELECT max(id) + 1 FROM raw_messages),
       0) AS id`,
    [cutoff],
  );
  return Number(res.rows[0]!.id);
}

async function pruneRawBytes(
  client: PoolClient,
  cutoff: Date,
  { batch, dryRun, signal }: Step,
): Promise<{ messages: number; bytes: number }> {
  const bound = await firstIdFrom(client, cutoff, true);
  // raw_messages_raw_kept_idx (migrations/0013) holds only the messages that still have their bytes.
  const which = `raw IS NOT NULL AND id < $2 AND received_at < $1 AND status = ANY ($3::text[])`;
  if (dryRun) {
    const res = await client.query<{ n: string; bytes: string }>(
      `SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS bytes FROM raw_messages WHERE ${which}`,
      [cutoff, bound, SETTLED],
    );
    return { messages: Number(res.rows[0]!.n), bytes: Number(res.rows[0]!.bytes) };
  }
  return inBatches(client, batch, signal, {
    text: `WITH batch AS (SELECT id FROM raw_messages WHERE ${which} ORDER BY id LIMIT $4)
           UPDATE raw_messages m SET raw = NULL FROM batch WHERE m.id = batch.id AND m.raw IS NOT NULL
           RETURNING m.size_bytes`,
    values: [cutoff, bound, SETTLED],
  });
}

async function pruneQuarantined(
  client: PoolClient,
  cutoff: Date,
  { batch, dryRun, signal }: Step,
): Promise<{ messages: number; bytes: number }> {
  // raw_messages_quarantined_idx (migrations/0001): quarantined messages by received_at.
  if (dryRun) {
    const res = await client.query<{ n: string; bytes: string }>(
      `SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS bytes FROM raw_messages WHERE status = 'quarantined' AND received_at < $1`,
      [cutoff],
    );
    return { messages: Number(res.rows[0]!.n), bytes: Number(res.rows[0]!.bytes) };
  }
  // The state is checked again on the row: a message `tlsrpt reprocess` reopened meanwhile stays.
  return inBatches(client, batch, signal, {
    text: `WITH batch AS (SELECT id FROM raw_messages WHERE status = 'quarantined' AND received_at < $1 ORDER BY received_at LIMIT $2)
           DELETE FROM raw_messages m USING batch WHERE m.id = batch.id AND m.status = 'quarantined'
           RETURNING m.size_bytes`,
    values: [cutoff],
  });
}

async function pruneMessageRows(client: PoolClient, cutoff: Date, { batch, dryRun, signal }: Step): Promise<{ messages: number }> {
  let bound = await firstIdFrom(client, cutoff, false);
  // The rollup job counts messages up to a mark (rollup_state.message_mark, in versions that have it):
  // rows it has not counted yet stay until it has.
  const hasMark = await client.query(
    `SELECT 1 FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'rollup_state' AND column_name = 'message_mark'`,
  );
  if (hasMark.rowCount) {
    const mark = await client.query<{ mark: string | null }>(`SELECT max(message_mark) AS mark FROM rollup_state`);
    const folded = mark.rows[0]?.mark;
    if (folded !== null && folded !== undefined) bound = Math.min(bound, Number(folded) + 1);
  }
  const which = `id < $2 AND received_at < $1 AND status = ANY ($3::text[])`;
  if (dryRun) {
    const res = await client.query<{ n: string }>(`SELECT count(*) AS n FROM raw_messages WHERE ${which}`, [cutoff, bound, SETTLED]);
    return { messages: Number(res.rows[0]!.n) };
  }
  const { messages } = await inBatches(client, batch, signal, {
    text: `WITH batch AS (SELECT id FROM raw_messages WHERE ${which} ORDER BY id LIMIT $4)
           DELETE FROM raw_messages m USING batch WHERE m.id = batch.id
           RETURNING m.size_bytes`,
    values: [cutoff, bound, SETTLED],
  });
  return { messages };
}

/** Runs a statement (whose last parameter is the batch size) until it changes fewer rows than a batch. */
async function inBatches(
  client: PoolClient,
  batch: number,
  signal: AbortSignal | undefined,
  query: { text: string; values: unknown[] },
): Promise<{ messages: number; bytes: number }> {
  let messages = 0;
  let bytes = 0;
  for (;;) {
    const res = await client.query<{ size_bytes: number }>(query.text, [...query.values, batch]);
    messages += res.rows.length;
    for (const r of res.rows) bytes += Number(r.size_bytes);
    if (res.rows.length < batch || signal?.aborted) return { messages, bytes };
  }
}

function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name);
}

/** For a caller that wants no progress lines. */
function ignore(): void {
  // Deliberately nothing: progress is optional.
}
