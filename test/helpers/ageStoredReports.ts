import type { Pool } from '../../src/db/pool.js';

/**
 * Makes stored reports look stored `minutes` earlier, as the periodic alert check finds them a while later:
 * the report, its identity, its policies and its failure details together, since they share their
 * stored_at (migrations/0013) and the alert attach finds each by it. `reportIds` null: every report.
 */
export async function ageStoredReports(pool: Pool, minutes: number, reportIds: number[] | null = null): Promise<void> {
  for (const [table, key] of [
    ['reports', 'id'],
    ['report_identities', 'id'],
    ['policies', 'report_id'],
    ['failure_details', 'report_id'],
  ] as const) {
    await pool.query(
      `UPDATE ${table} SET stored_at = stored_at - $1 * interval '1 minute' WHERE $2::bigint[] IS NULL OR ${key} = ANY ($2::bigint[])`,
      [minutes, reportIds],
    );
  }
}
