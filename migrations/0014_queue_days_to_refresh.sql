-- Up Migration

-- Days whose rollups must be recomputed because a report already counted changed (issue 15 part 2: figures
-- that do not depend on arrival order). A later copy of a stored report completes it (src/store/storeReport.ts):
-- a policy domain recovered from the mail's TLS-Report-Domain header, say. Since 0012 nothing recomputes the
-- totals on UPDATE, so a report folded before its completion would keep its first (domain-less) figures in
-- the daily totals and readiness, unlike the same two copies arriving the other way round.
-- The completing statement adds the report's day here, in its own transaction; fold_rollups()
-- (definitions/20_daily_totals.sql) takes the days off this table and recomputes them with
-- refresh_daily_totals(days) in one transaction. A crash before either commit leaves both or neither: the
-- day is recomputed at least once after the change, and recomputing a day twice gives the same figures.
-- A day is recomputed whether or not the report was folded yet (a report still queued is left to the fold),
-- so a completion racing a fold never needs to know which one commits first.
CREATE TABLE rollup_refresh_days (
  day        date        PRIMARY KEY,
  -- When the first change still waiting for this day was made.
  queued_at  timestamptz NOT NULL DEFAULT now()
);

-- fold_rollups() drains the new table: 20_daily_totals.sql changed with this migration.
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';

-- Down Migration

-- The days still waiting are recomputed now, with the functions the definitions applied; the earlier
-- version's "tlsrpt migrate" then applies its own 20_daily_totals.sql (its row is deleted here), whose
-- fold_rollups() does not read this table.
SELECT refresh_daily_totals(ARRAY(SELECT day FROM rollup_refresh_days ORDER BY day))
WHERE EXISTS (SELECT 1 FROM rollup_refresh_days);
DROP TABLE rollup_refresh_days;
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';
