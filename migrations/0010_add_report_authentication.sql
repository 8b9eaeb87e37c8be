-- Up Migration

-- Who sent a report (README "Authentication (DKIM)"). RFC 8460 section 3 asks senders to DKIM-sign report
-- mail and lets receivers ignore reports that are not; a tool that says "ready to enforce" must be able to
-- say which reporters it believed.

-- What each copy proved, as the worker found it (src/auth/verifyDkim.ts MessageAuthentication): the method
-- (dkim for mail, https for a POST), the result of each signature, its signing domain, its alignment with
-- the From domain and whether its key allows the tlsrpt service type. NULL: not verified (received before
-- this migration, or quarantined before verification).
ALTER TABLE raw_messages ADD COLUMN authentication jsonb;

-- The report's summary over all its copies: authenticated when any copy was (a later copy that passes
-- completes a report first stored from an unsigned or HTTPS copy, src/store/storeReport.ts), and by whom
-- ("google.com", the least such name over the copies, so that arrival order does not change it). Reports
-- stored before this migration are not authenticated: their mail was never verified.
ALTER TABLE reports
  ADD COLUMN authenticated boolean NOT NULL DEFAULT false,
  ADD COLUMN authenticated_by text;

-- The copies of a report (its first raw message and the duplicates), for `tlsrpt report show` and a report
-- page. Building it reads raw_messages once and holds off new raw messages meanwhile (receivers wait, past
-- their timeouts they answer 451 and senders retry): on a large table run "tlsrpt migrate" at a quiet time.
CREATE INDEX raw_messages_report_id_idx ON raw_messages (report_id);

-- `tlsrpt readiness --authenticated-only` counts the reporters of the window that authenticated.
CREATE INDEX reports_authenticated_day_idx ON reports (report_day(start_at, end_at)) WHERE authenticated;

-- enforce_readiness_for() gains an argument (authenticated_only) and a result column (authenticated_reporters):
-- a new signature, which CREATE OR REPLACE cannot make, so the old one goes and definitions/40_readiness.sql
-- is applied again after this migration (migrations/definitions/README.md).
DROP VIEW enforce_readiness;
DROP FUNCTION enforce_readiness_for(integer, numeric, integer, integer, date);
DELETE FROM schema_definitions WHERE name = '40_readiness.sql';

-- Down Migration
-- The readiness function goes with the columns it reads. In its place, one with the earlier signature that
-- says what to run, so that earlier migrations' down sections find what they drop or replace; the earlier
-- version's "tlsrpt migrate" applies its own 40_readiness.sql again (its row is deleted here).
DROP VIEW IF EXISTS enforce_readiness;
DROP FUNCTION IF EXISTS enforce_readiness_for(integer, numeric, integer, integer, date, boolean);
DELETE FROM schema_definitions WHERE name = '40_readiness.sql';
CREATE FUNCTION enforce_readiness_for(
  window_days integer DEFAULT 14,
  max_failure_rate numeric DEFAULT 0.001,
  min_days integer DEFAULT 7,
  min_reporters integer DEFAULT 2,
  as_of date DEFAULT NULL
) RETURNS TABLE (
  policy_domain text, policy_mode text, days_with_reports integer, reporters integer, successful_sessions bigint,
  failed_sessions bigint, failure_rate numeric, top_result_type text, ready boolean, reason text
)
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
  RAISE EXCEPTION 'enforce_readiness_for() is defined by migrations/definitions/40_readiness.sql: run "tlsrpt migrate"';
END
$fn$;
CREATE VIEW enforce_readiness AS SELECT * FROM enforce_readiness_for();
DROP INDEX reports_authenticated_day_idx;
DROP INDEX raw_messages_report_id_idx;
ALTER TABLE reports DROP COLUMN authenticated_by, DROP COLUMN authenticated;
ALTER TABLE raw_messages DROP COLUMN authentication;
