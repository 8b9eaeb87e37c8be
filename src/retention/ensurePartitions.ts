/**
 * Keeps the month partitions of reports, policies and failure_details created ahead of the rows that will
 * need them (migrations/0013). There is no default partition, on purpose: it would forbid detaching a
 * month concurrently (PostgreSQL refuses DETACH ... CONCURRENTLY then), and so would make pruning lock
 * out ingestion. The workers call this at start and at each retention check (./retentionJob.ts), and
 * `tlsrpt prune` before it prunes, so the partitions exist MONTHS_AHEAD months before they are needed.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { monthsFrom } from './retentionPlan.js';

/** The tables partitioned by the month of stored_at, a report's rows always in the same month. */
export const PARTITIONED_TABLES = ['reports', 'policies', 'failure_details'] as const;

/** This month and the next two: a worker down for more than a month still finds its partitions. */
export const MONTHS_AHEAD = 2;

/** Creates the missing partitions; returns the names of those it created. */
export async function ensurePartitions(db: Pool | PoolClient, now: Date = new Date()): Promise<string[]> {
  // create_month_partition (migrations/0013) creates a partition on its own and attaches it: no lock that
  // waits for, or holds off, the inserts and queries of the pipeline.
  const res = await db.query<{ created: string | null }>(
    `SELECT create_month_partition(t::regclass, m::date) AS created
     FROM unnest($1::text[]) AS t, unnest($2::text[]) AS m`,
    [PARTITIONED_TABLES, monthsFrom(now, MONTHS_AHEAD)],
  );
  return res.rows.map((r) => r.created).filter((n): n is string => n !== null);
}
