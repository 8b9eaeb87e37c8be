-- Rules that both SQL and TypeScript apply, each defined here once for SQL and once in src/rules/ for
-- TypeScript; test/rules/ runs one table of cases through both. See README.md in this directory for when
-- these files are applied.
-- report_day(start_at, end_at) is such a rule too (src/rules/reportDay.ts) but lives in
-- migrations/0002_create_stats_views.sql: index reports_day_idx is built on it, so changing it takes a
-- numbered migration that also rebuilds the index and the daily totals.

-- The mode of an MTA-STS policy as a report quotes it (src/rules/stsMode.ts). RFC 8461 3.2: the policy file
-- is "key: value" lines; RFC 8460 4.4: reporters copy it into policy-string, one line per element, and some
-- put the whole file, line breaks included, in one element. The first line whose key is "mode" gives the
-- mode: the first run of non-space characters after the colon, in lower case; NULL when there is no mode
-- line or it has no value. The elements are joined and searched with one pattern: about 3 microseconds a
-- call, against some 130 for the rest of the daily-totals work of a stored report.
CREATE OR REPLACE FUNCTION sts_mode(policy_string text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT nullif(substring(lower(E'\n' || array_to_string(policy_string, E'\n'))
                          FROM '\n[ \t]*mode[ \t]*:[ \t]*([^ \t\n\r\v\f]*)'), '')
$$;

-- The order in which policy types are counted on a tie (src/rules/countedSessions.ts): when a report lists
-- a domain under several policy types (quirk 5: tlsa and sts for the same sessions), the type with the most
-- sessions counts; on a tie sts, then tlsa, then no-policy-found, then any other type (alphabetically, by
-- the caller's next sort key).
CREATE OR REPLACE FUNCTION policy_type_precedence(policy_type text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE policy_type WHEN 'sts' THEN 0 WHEN 'tlsa' THEN 1 WHEN 'no-policy-found' THEN 2 ELSE 3 END
$$;

-- A failure rate as every number of this project shows it : failed / (successful +
-- failed) rounded to 5 decimals, which is a percentage with 3 decimals (0.00154 = 0.154%); NULL without
-- sessions. The readiness table and its reason both print this one value.
CREATE OR REPLACE FUNCTION session_failure_rate(successful_sessions numeric, failed_sessions numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN successful_sessions + failed_sessions > 0
              THEN round(failed_sessions / (successful_sessions + failed_sessions), 5) END
$$;

-- A failure rate in words: 0.00154 -> '0.154%'.
CREATE OR REPLACE FUNCTION percent_text(rate numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT trim_scale(rate * 100) || '%'
$$;

-- "1 reporter", "2 reporters": count_noun(n, 'reporter').
CREATE OR REPLACE FUNCTION count_noun(n bigint, noun text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT n || ' ' || noun || CASE WHEN n = 1 THEN '' ELSE 's' END
$$;
