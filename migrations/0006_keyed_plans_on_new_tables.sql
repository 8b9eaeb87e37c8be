-- Up Migration

-- The daily-totals triggers look up the reports, policies and failure details of the rows a statement
-- just inserted: always a few rows found by key. Their plans are cached per connection (0004 forces a
-- generic plan), and a plan made while the tables are new and not yet analyzed reads them with sequential
-- scans, which then grow with every stored report until autovacuum's next ANALYZE replaces the plan. On
-- the reference machine that was a third of Postgres's time per stored report in a fresh database. With
-- sequential scans priced out, these functions use their indexes whatever the statistics say; there is
-- an index for every lookup they make (policies by report, details by policy, each by id).
ALTER FUNCTION add_to_daily_totals(bigint[], xid, cid) SET enable_seqscan = off;
ALTER FUNCTION daily_totals_add_failure_details() SET enable_seqscan = off;

-- Down Migration

ALTER FUNCTION daily_totals_add_failure_details() RESET enable_seqscan;
ALTER FUNCTION add_to_daily_totals(bigint[], xid, cid) RESET enable_seqscan;
